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


class ShaderValidationError(ValidationError):
    """Validation mode (``options={"validation": True}``) found errors in a kernel:
    out-of-bounds accesses, threadgroup races, barrier divergence, reads of threadgroup
    memory never written. Raised by ``wait_until_completed()``; ``.findings`` lists the
    first distinct ones (``KernelFinding``: kind, file, line, column, thread, threadgroup,
    buffer_index, offset, extent, message)."""

    findings = ()


class CommandBufferError(str):
    """``command_buffer.error`` of a buffer that validation failed: the message, with the
    findings on ``.findings``."""

    findings = ()


class ValidationTypeError(ValidationError, TypeError):
    """Wrong use of the API by a value of the wrong type; also a TypeError (and a
    ValidationError, so ``except ValidationError`` catches every misuse)."""


def _python_terms(message):
    """nanobind's message for arguments no overload accepts, in Python terms."""
    import re

    text = message.replace("pymetallic._core.", "pymetallic.")
    text = text.replace(
        "incompatible function arguments. The following argument types are supported:",
        "wrong argument types; it takes:",
    )
    text = re.sub(r"\(self, ", "(", text)
    text = re.sub(r"\(self\)", "()", text)

    # "Invoked with types: pymetallic.ComputeCommandEncoder, str" -> "called with: (str)"
    def _called(m):
        types = [t.strip() for t in m.group(1).split(",")]
        return "called with: (" + ", ".join(types) + ")"

    text = re.sub(r"Invoked with types: (.*)", _called, text)
    return text


def _wrap_method(owner, name, func, static=False):
    def method(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TypeError as e:
            if type(e) is TypeError and "incompatible function arguments" in str(e):
                raise ValidationTypeError(_python_terms(str(e))) from None
            raise

    method.__name__ = name
    method.__qualname__ = f"{owner.__name__}.{name}"
    method.__doc__ = func.__doc__
    return staticmethod(method) if static else method


def _python_argument_errors(classes, keep=()):
    """Arguments of the wrong type given to the native classes' methods raise
    ValidationTypeError (a TypeError and a ValidationError) with a message in Python terms,
    instead of nanobind's TypeError. Methods named in `keep` (called per dispatch) check
    their arguments themselves and stay unwrapped: no extra call on the hot path."""
    for cls in classes:
        for name, attr in list(vars(cls).items()):
            if name.startswith("__") or name in keep:
                continue
            kind = type(attr).__name__
            if kind == "nb_method":
                setattr(cls, name, _wrap_method(cls, name, attr))
            elif kind == "nb_func":
                setattr(cls, name, _wrap_method(cls, name, attr, static=True))
