# The one version number of pymetallic. The wheel's metadata (pyproject.toml) and the C++
# library (CMakeLists.txt, as METALLIC_VERSION: part of every disk-cache key) read it here.
__version__ = "0.2.0"
