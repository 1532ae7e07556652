// MSL's predefined macros. ONLY #define lines and comments may appear in this file:
// the front end's preprocessor reads it when user code includes <metal_stdlib> (or
// any <metal_*> header), so these names work in user macros exactly as on a Mac.
// Values may name things in namespace metal (the runtime library is always included
// before user code). The file has no include guard on purpose: it holds only
// definitions, and repeating an identical #define is harmless.

#define METAL_FUNC inline __attribute__((always_inline))

// __METAL_VERSION__, __HAVE_BFLOAT__, __METAL_MACOS__ and the fast-math macros depend on
// the compile options: the front end's preprocessor defines them (preprocessor.cpp).

// float constants (MSL spec, "Mathematical constants").
#define M_E_F 2.71828182845904523536028747135266250f
#define M_LOG2E_F 1.44269504088896340735992468100189214f
#define M_LOG10E_F 0.434294481903251827651128918916605082f
#define M_LN2_F 0.693147180559945309417232121458176568f
#define M_LN10_F 2.30258509299404568401799145468436421f
#define M_PI_F 3.14159265358979323846264338327950288f
#define M_PI_2_F 1.57079632679489661923132169163975144f
#define M_PI_4_F 0.785398163397448309615660845819875721f
#define M_1_PI_F 0.318309886183790671537767526745028724f
#define M_2_PI_F 0.636619772367581343075535053490057448f
#define M_2_SQRTPI_F 1.12837916709551257389615890312154517f
#define M_SQRT2_F 1.41421356237309504880168872420969808f
#define M_SQRT1_2_F 0.707106781186547524400844362104849039f

// half constants: the float value rounded to half (constexpr conversion).
#define M_E_H (metal::half(2.71828182845904523536f))
#define M_LOG2E_H (metal::half(1.44269504088896340736f))
#define M_LOG10E_H (metal::half(0.434294481903251827651f))
#define M_LN2_H (metal::half(0.693147180559945309417f))
#define M_LN10_H (metal::half(2.30258509299404568402f))
#define M_PI_H (metal::half(3.14159265358979323846f))
#define M_PI_2_H (metal::half(1.57079632679489661923f))
#define M_PI_4_H (metal::half(0.785398163397448309616f))
#define M_1_PI_H (metal::half(0.318309886183790671538f))
#define M_2_PI_H (metal::half(0.636619772367581343076f))
#define M_2_SQRTPI_H (metal::half(1.12837916709551257390f))
#define M_SQRT2_H (metal::half(1.41421356237309504880f))
#define M_SQRT1_2_H (metal::half(0.707106781186547524401f))

// float limits (hexadecimal literals are exact).
#define MAXFLOAT 0x1.fffffep+127f
#define HUGE_VALF (metal::numeric_limits<float>::infinity())
#define INFINITY (metal::numeric_limits<float>::infinity())
#define NAN (metal::numeric_limits<float>::quiet_NaN())
#define FLT_MAX 0x1.fffffep+127f
#define FLT_MIN 0x1p-126f
#define FLT_EPSILON 0x1p-23f
#define FLT_DIG 6
#define FLT_MANT_DIG 24
#define FLT_MAX_EXP 128
#define FLT_MIN_EXP (-125)
#define FLT_MAX_10_EXP 38
#define FLT_MIN_10_EXP (-37)
#define FLT_RADIX 2

// half limits.
#define HALF_MAX (metal::half(65504.0f))
#define HALF_MIN (metal::half(0x1p-14f))
#define HALF_EPSILON (metal::half(0x1p-10f))
#define HUGE_VALH (metal::numeric_limits<metal::half>::infinity())
#define MAXHALF (metal::half(65504.0f))
#define HALF_DIG 3
#define HALF_MANT_DIG 11
#define HALF_MAX_EXP 16
#define HALF_MIN_EXP (-13)
#define HALF_MAX_10_EXP 4
#define HALF_MIN_10_EXP (-4)
#define HALF_RADIX 2

// integer limits (plain literals so they work in #if).
#define CHAR_BIT 8
#define SCHAR_MAX 127
#define SCHAR_MIN (-128)
#define UCHAR_MAX 255
#define CHAR_MAX 127
#define CHAR_MIN (-128)
#define SHRT_MAX 32767
#define SHRT_MIN (-32768)
#define USHRT_MAX 65535
#define INT_MAX 2147483647
#define INT_MIN (-2147483647 - 1)
#define UINT_MAX 4294967295u
#define LONG_MAX 9223372036854775807l
#define LONG_MIN (-9223372036854775807l - 1)
#define ULONG_MAX 18446744073709551615ul

// MSL 3.2 `coherent(device)` / `coherent(threadgroup)` on a pointer or texture: every store
// here is visible device-wide once fenced, so the qualifier changes nothing.
#define coherent(scope)
