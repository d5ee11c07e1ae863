#!/usr/bin/python3
"""Writes the safetensors test corpus: malformed files the reader must reject, and valid ones.

Run from anywhere:  python3 tools/make_bad_safetensors.py
Needs nothing beyond the standard library.

tests/data/safetensors_bad/   one file per validation rule of io/safetensors.cpp, and MANIFEST.txt:
                              one line per file, "filename<TAB>substring the error must contain"
tests/data/safetensors_good/  small valid files (layouts the reader must accept); the unit tests
                              check their contents, and both directories seed the fuzzer
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAD_DIR = os.path.join(ROOT, "tests", "data", "safetensors_bad")
GOOD_DIR = os.path.join(ROOT, "tests", "data", "safetensors_good")


def header_text(header, pad=True):
    """Compact JSON for a dict (raw bytes are used as they are), space-padded to 8 bytes."""
    if isinstance(header, bytes):
        text = header
    else:
        text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return text


def image(header, buffer=b"", pad=True, size=None):
    """A file image: u64 header size (or `size`, to lie about it), header, byte buffer."""
    text = header_text(header, pad)
    return struct.pack("<Q", len(text) if size is None else size) + text + buffer


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


F32_6 = struct.pack("<6f", 0, 1, 2, 3, 4, 5)
W = {"w": entry("F32", [2, 3], 0, 24)}  # a valid entry for F32_6
W_JSON = json.dumps(W["w"]).encode()


def bad_files():
    """(file name, contents, expected error substring) for every rule the reader enforces."""
    w_with = lambda **kw: {"w": {**W["w"], **kw}}
    return [
        ("empty.safetensors", b"", "file is 0 bytes, shorter than the 8-byte header size"),
        ("truncated_size.safetensors", b"\x10\x00\x00", "file is 3 bytes, shorter than"),
        ("header_too_large.safetensors", image({}, size=100_000_001),
         "header size 100000001 exceeds the 100000000-byte limit"),
        ("header_size_u64_max.safetensors", image({}, size=2**64 - 1),
         "exceeds the 100000000-byte limit"),
        ("truncated_header.safetensors", image(b'{"w":{"dtype":"F32"', pad=False, size=64),
         "header size 64 is larger than the 19 bytes after it"),
        ("empty_header.safetensors", image(b"", pad=False), "header is not valid UTF-8 JSON"),
        ("bad_json.safetensors", image(b'{"w":{"dtype":"F32",}}'),
         "header is not valid UTF-8 JSON"),
        ("invalid_utf8.safetensors", image(b'{"\xff\xfe":{}}'), "header is not valid UTF-8 JSON"),
        ("not_object.safetensors", image(b"[1,2]"),
         "header is a JSON array, expected a JSON object"),
        ("duplicate_name.safetensors", image(b'{"w":%s,"w":%s}' % (W_JSON, W_JSON), F32_6),
         "duplicate tensor name 'w'"),
        ("duplicate_entry_key.safetensors",
         image(b'{"w":{"dtype":"F32","dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}', F32_6),
         "duplicate key 'dtype' in the entry of 'w'"),
        ("deep_nesting.safetensors", image({"w": {"shape": [[[1]]]}}), "header JSON nests deeper"),
        ("entry_not_object.safetensors", image({"w": 5}), "tensor 'w': entry is a number"),
        ("missing_data_offsets.safetensors", image({"w": {"dtype": "F32", "shape": [2, 3]}}, F32_6),
         "tensor 'w': missing key 'data_offsets'"),
        ("extra_key.safetensors", image(w_with(offsets=[0, 24]), F32_6),
         "tensor 'w': unexpected key 'offsets'"),
        ("unknown_dtype.safetensors", image(w_with(dtype="F33"), F32_6),
         "tensor 'w': unknown dtype \"F33\""),
        ("unsupported_dtype_u8.safetensors", image({"w": entry("U8", [4], 0, 4)}, b"\x00" * 4),
         "unsupported dtype U8 for tensor 'w'"),
        ("unsupported_dtype_f8.safetensors", image({"w": entry("F8_E4M3", [4], 0, 4)}, b"\x00" * 4),
         "unsupported dtype F8_E4M3 for tensor 'w'"),
        ("dtype_not_string.safetensors", image(w_with(dtype=32), F32_6),
         "tensor 'w': dtype must be a string"),
        ("negative_shape.safetensors", image(w_with(shape=[2, -3]), F32_6),
         "tensor 'w': shape must be an array of non-negative integers"),
        ("float_shape.safetensors", image(w_with(shape=[2.0, 3]), F32_6),
         "tensor 'w': shape must be an array of non-negative integers"),
        ("shape_not_array.safetensors", image(w_with(shape="2x3"), F32_6),
         "tensor 'w': shape must be an array of non-negative integers"),
        ("too_many_dims.safetensors", image({"w": entry("F32", [1] * 9, 0, 4)}, b"\x00" * 4),
         "tensor 'w': shape has 9 dims, at most 8"),
        ("shape_overflow.safetensors", image({"w": entry("F32", [2**40, 2**40], 0, 0)}),
         "tensor 'w': element count of shape [1099511627776,1099511627776] overflows int64"),
        ("shape_u64_max.safetensors", image({"w": entry("BOOL", [0, 2**64 - 1], 0, 0)}),
         "overflows int64"),
        ("size_mismatch.safetensors", image(w_with(data_offsets=[0, 20]), F32_6[:20]),
         "tensor 'w': data_offsets [0, 20] hold 20 bytes but dtype F32 and shape (2, 3) need 24"),
        ("offsets_beyond_buffer.safetensors", image(W, F32_6[:16]),
         "tensor 'w': data_offsets [0, 24] reach beyond the end of the 16-byte buffer"),
        ("begin_after_end.safetensors", image(w_with(data_offsets=[24, 0]), F32_6),
         "tensor 'w': data_offsets [24, 0] have begin after end"),
        ("offsets_not_pair.safetensors", image(w_with(data_offsets=[0]), F32_6),
         "tensor 'w': data_offsets must be two non-negative integers"),
        ("offsets_negative.safetensors", image(w_with(data_offsets=[-8, 16]), F32_6),
         "tensor 'w': data_offsets must be two non-negative integers"),
        ("overlap.safetensors",
         image({"a": entry("F32", [4], 0, 16), "b": entry("F32", [4], 8, 24)}, F32_6),
         "tensor 'b': data_offsets [8, 24] overlap those of tensor 'a' [0, 16]"),
        ("hole.safetensors",
         image({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 16, 24)}, F32_6),
         "bytes [8, 16) of the buffer belong to no tensor"),
        ("trailing_bytes.safetensors", image({"a": entry("F32", [2], 0, 8)}, F32_6[:12]),
         "bytes [8, 12) of the buffer belong to no tensor"),
        ("metadata_not_map.safetensors", image({"__metadata__": "pt", **W}, F32_6),
         "__metadata__ must map strings to strings"),
        ("metadata_value_not_string.safetensors",
         image({"__metadata__": {"format": "pt", "step": 3}, **W}, F32_6),
         "__metadata__ must map strings to strings, but 'step' is 3"),
        ("bool_not_0_or_1.safetensors", image({"m": entry("BOOL", [3], 0, 3)}, b"\x00\x01\x02"),
         "tensor 'm': BOOL element 2 is stored as byte 2, expected 0 or 1"),
    ]


def good_files():
    """Valid files; tests/io/safetensors_test.cpp checks each one's contents."""
    mixed = [  # name, dtype, shape, bytes; in the order the official writer lays them out
        ("f64", "F64", [2], struct.pack("<2d", 3.25, -1.5)),
        ("i64", "I64", [2], struct.pack("<2q", -7, 2**40)),
        ("c64", "C64", [1], struct.pack("<2f", 1.0, 2.0)),
        ("f32", "F32", [2, 3], F32_6),
        ("i32", "I32", [1], struct.pack("<i", 123456)),
        ("bf16", "BF16", [2], struct.pack("<2H", 0x3FC0, 0xC000)),  # 1.5, -2
        ("f16", "F16", [2], struct.pack("<2H", 0x3E00, 0xC000)),    # 1.5, -2
        ("mask", "BOOL", [3], b"\x01\x00\x01"),
    ]
    header, buffer = {}, b""
    for name, dtype, shape, data in mixed:
        header[name] = entry(dtype, shape, len(buffer), len(buffer) + len(data))
        buffer += data
    # A pretty-printed header not padded to 8 bytes and a BOOL first: the F32 data is misaligned.
    misaligned = json.dumps({"m": entry("BOOL", [1], 0, 1), "w": entry("F32", [2, 3], 1, 25)},
                            indent=2).encode()
    misaligned += b" " * (len(misaligned) % 2)  # an even header size puts "w" at an odd offset
    return [
        ("f32_metadata.safetensors", image({"__metadata__": {"format": "pt"}, **W}, F32_6)),
        ("mixed_dtypes.safetensors", image(header, buffer)),
        ("misaligned.safetensors", image(misaligned, b"\x01" + F32_6, pad=False)),
        ("empty_and_scalar.safetensors",
         image({"empty": entry("F32", [2, 0], 0, 0), "scalar": entry("F64", [], 0, 8)},
               struct.pack("<d", 2.5))),
        ("no_tensors.safetensors", image({})),
    ]


def write(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    for directory in (BAD_DIR, GOOD_DIR):
        os.makedirs(directory, exist_ok=True)
        for old in os.listdir(directory):  # drop files of cases that no longer exist
            os.remove(os.path.join(directory, old))
    manifest = []
    for name, data, expected in bad_files():
        write(BAD_DIR, name, data)
        manifest.append(f"{name}\t{expected}\n")
    write(BAD_DIR, "MANIFEST.txt", "".join(manifest).encode())
    for name, data in good_files():
        write(GOOD_DIR, name, data)
    print(f"wrote {len(manifest)} malformed files to {BAD_DIR} and {len(good_files())} valid ones "
          f"to {GOOD_DIR}")


if __name__ == "__main__":
    main()
