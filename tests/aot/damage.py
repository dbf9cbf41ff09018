"""Damage a real .tflite through the schema's object API: a named structural fault, repacked."""

from __future__ import annotations

from typing import Callable


def edit_model(model: bytes, edit: Callable) -> bytes:
    import flatbuffers

    from mcubench.models.tflite_file import _schema

    m = _schema().ModelT.InitFromPackedBuf(bytearray(model), 0)
    edit(m)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _weights(m):
    """(tensor, buffer) of the first operator's constant input with data."""
    sg = m.subgraphs[0]
    for op in sg.operators:
        for t in op.inputs:
            if t >= 0 and m.buffers[sg.tensors[t].buffer].data is not None and len(m.buffers[sg.tensors[t].buffer].data):
                return sg.tensors[t], m.buffers[sg.tensors[t].buffer]
    raise AssertionError("no constant input")


def no_operators(m):
    m.subgraphs[0].operators = []


def no_subgraphs(m):
    m.subgraphs = []


def buffer_out_of_range(m):
    m.subgraphs[0].tensors[0].buffer = len(m.buffers) + 7


def opcode_out_of_range(m):
    m.subgraphs[0].operators[0].opcodeIndex = len(m.operatorCodes) + 3


def input_out_of_range(m):
    m.subgraphs[0].operators[0].inputs[0] = len(m.subgraphs[0].tensors) + 1


def output_is_minus_one(m):
    m.subgraphs[0].operators[-1].outputs[0] = -1


def graph_input_out_of_range(m):
    m.subgraphs[0].inputs = [len(m.subgraphs[0].tensors)]


def short_constant(m):
    _, buf = _weights(m)
    buf.data = buf.data[:-1]


def negative_dimension(m):
    m.subgraphs[0].tensors[m.subgraphs[0].outputs[0]].shape[-1] = -2


def unknown_type(m):
    m.subgraphs[0].tensors[0].type = 99


def zero_points_missing(m):
    t, _ = _weights(m)
    t.quantization.zeroPoint = []


def scales_off_axis(m):
    t, _ = _weights(m)
    t.quantization.quantizedDimension = len(t.shape)


def huge_shape(m):
    m.subgraphs[0].tensors[m.subgraphs[0].outputs[0]].shape = [1, 65536, 65536]


# fault -> what the one-line error must say
FAULTS = {
    no_operators: "main subgraph has no operators",
    no_subgraphs: "no subgraphs",
    buffer_out_of_range: "points at buffer",
    opcode_out_of_range: "opcode index",
    input_out_of_range: "refers to a tensor outside",
    output_is_minus_one: "refers to a tensor outside",
    graph_input_out_of_range: "input tensors",
    short_constant: "bytes of data",
    negative_dimension: "negative dimension",
    unknown_type: "unknown type code 99",
    huge_shape: "at most 2 GiB",
    zero_points_missing: "quantization scales and 0 zero points",
    scales_off_axis: "scales along axis",
}


def non_utf8_names(m):
    for t in m.subgraphs[0].tensors:
        t.name = b"\xff\xfe" + (t.name or b"")
