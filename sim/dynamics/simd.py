"""Eight float64 values as one LLVM vector (``<8 x double>``), for sums that must vectorise.

Numba's loop vectoriser turns a plain ``s += x[k]`` into vector code only when it may
reorder the additions, which would make a sum depend on the compiler; LLVM's SLP
vectoriser, which packs a fixed set of partial sums written out by hand, is off in Numba
since it miscompiled (numba PR #8852, 2023). So ``sim.dynamics.change.lane_sum`` says it
outright: ``Vec8`` is a Numba type whose value is an LLVM vector, and each function here
is one LLVM instruction (or two) on it. The arithmetic is IEEE lane by lane, exactly as
the scalar ``a + b`` (no reassociation), so a sum's order is the one the code writes.

``load`` reads 8 consecutive values of a C-contiguous 1-D float64 array at an offset
that the caller keeps within the array (nothing is bounds-checked, as in Numba's own
indexing); any other array is refused when the caller compiles.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

WIDTH = 8
_VT = ir.VectorType(ir.DoubleType(), WIDTH)


class Vec8Type(types.Type):
    """Eight float64 lanes held as one LLVM vector."""

    def __init__(self) -> None:
        super().__init__(name="Vec8")


vec8 = Vec8Type()


@register_model(Vec8Type)
class _Vec8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VT)


@intrinsic
def load(typingctx, a, offset):
    """a[offset : offset + 8] as a Vec8 (a: C-contiguous 1-D float64)."""
    if not (isinstance(a, types.Array) and a.dtype == types.float64 and a.ndim == 1 and a.layout == "C"):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), _VT.as_pointer())
        return builder.load(ptr, align=8)

    return vec8(a, offset), codegen


@intrinsic
def zero(typingctx):
    """Vec8 of 0.0."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_VT, [0.0] * WIDTH)

    return vec8(), codegen


@intrinsic
def add(typingctx, x, y):
    """The sum of x and y, lane by lane."""
    if x != vec8 or y != vec8:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return vec8(x, y), codegen


@intrinsic
def lane(typingctx, v, w):
    """The value of lane w (0 <= w < 8)."""
    if v != vec8:
        return None

    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], args[1])

    return types.float64(v, w), codegen


@intrinsic
def add_to_lane(typingctx, v, w, x):
    """A copy of v with lane w replaced by v[w] + x (0 <= w < 8)."""
    if v != vec8:
        return None

    def codegen(context, builder, sig, args):
        x = context.cast(builder, args[2], sig.args[2], types.float64)
        s = builder.fadd(builder.extract_element(args[0], args[1]), x)
        return builder.insert_element(args[0], s, args[1])

    return vec8(v, w, x), codegen
