"""The exceptions pymetallic raises. Every one is a MetalError."""


class MetalError(Exception):
    """Base of every error pymetallic raises."""


class CompileError(MetalError):
    """MSL source that does not compile. ``.log`` holds the compiler's full output, whose
    file:line locations point at the user's source."""

    log = ""


class DeviceError(MetalError):
    """A device that is missing, lost, or poisoned by an earlier fault."""


class ValidationError(MetalError, ValueError):
    """Wrong use of the API (bad sizes, indices or states); also a ValueError."""


class ValidationTypeError(ValidationError, TypeError):
    """Wrong use of the API by a value of the wrong type; also a TypeError (and a
    ValidationError, so ``except ValidationError`` catches every misuse)."""
