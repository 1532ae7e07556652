"""Reusable simulations behind the demos and examples: each builds its pipelines once,
keeps its state in device buffers, and has a NumPy reference for the tests."""

from .fluid import FluidReference, FluidSimulation
from .life import LifeSimulation, life_reference

__all__ = ["FluidSimulation", "FluidReference", "LifeSimulation", "life_reference"]
