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
