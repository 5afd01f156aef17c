#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/: small valid and near-valid
inputs for each fuzz target. Run from anywhere after changing a seed; the
files are committed, so the fuzzers need neither this script nor protoc.
Crashing inputs the fuzzers found live there too (named crash-*), kept by
hand, not by this script."""

import pathlib
import struct
import subprocess

FUZZ = pathlib.Path(__file__).resolve().parent
CORPUS = FUZZ / "corpus"


def npy(descr, shape, payload, fortran=False, version=1, quote="'"):
    """The bytes of a .npy file with the given header fields and payload."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    q = quote
    header = f"{{{q}descr{q}: {q}{descr}{q}, {q}fortran_order{q}: {fortran}, {q}shape{q}: ({dims}), }}"
    length_size = 2 if version == 1 else 4
    prefix = 6 + 2 + length_size
    header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + payload


def int8_table():
    """A valid signed 8x8-bit product table as a (256, 256) int8 .npy (products wrap)."""
    values = bytes(((x * w) & 0xFF) for x in range(-128, 128) for w in range(-128, 128))
    return npy("|i1", (256, 256), values)


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def npy_seeds():
    write("npy", "int32_2x3", npy("<i4", (2, 3), struct.pack("<6i", 1, -2, 3, -4, 5, -6)))
    write("npy", "float32_fortran_2x2", npy("<f4", (2, 2), struct.pack("<4f", 1, 2, 3, 4), fortran=True))
    write("npy", "float64_scalar_v2", npy("<f8", (), struct.pack("<d", 2.5), version=2))
    write("npy", "int8_empty_v3", npy("i1", (0,), b"", version=3))
    write("npy", "int16_double_quotes", npy("<i2", (3,), struct.pack("<3h", 7, 8, 9), quote='"'))
    write("npy", "int64_3d_fortran", npy("<i8", (2, 1, 2), struct.pack("<4q", 1, 2, 3, 4), fortran=True))
    write("npy", "short_payload", npy("<i4", (2,), b"abcd"))
    write("npy", "big_endian", npy(">i4", (1,), b"abcd"))
    write("npy", "header_past_end", b"\x93NUMPY\x01\x00\xff\x00{")
    write("npy", "unknown_key", b"\x93NUMPY\x01\x00\x1c\x00{'descr': '<i4', 'colour': 3}")


def lut_table_seeds():
    # The first byte picks the format: 0 bin, 1 npy, 2 text.
    write("lut_table", "npy_int8_valid", b"\x01" + int8_table())
    write("lut_table", "npy_wrong_shape", b"\x01" + npy("<i4", (2, 2), struct.pack("<4i", 1, 2, 3, 4)))
    write("lut_table", "npy_float", b"\x01" + npy("<f4", (1, 1), struct.pack("<f", 1)))
    write("lut_table", "bin_short", b"\x00" + struct.pack("<4i", 0, 1, -1, 2**31 - 1))
    write("lut_table", "text_one_row", "\x02" + " ".join(["1.6e+01"] * 128 + ["-128"] * 128) + "\n")
    write("lut_table", "text_blank_lines", "\x02\n\n  \r\n" + " ".join(["7"] * 256) + "\n\n")
    write("lut_table", "text_bad_entry", "\x02" + "1 2 x 4\n3000000000 2.5\n")


def lut_directory_seeds():
    # Byte 0: format (% 3: bin, npy, txt), signedness (/ 3 % 3: csv, signed,
    # unsigned), entry (/ 9 % 2: load_lut_directory, load_lut_files).
    csv = "name,signed,PDK45_PWR,PDK45_DELAY\nmul8s_1,1,0.391,1.43\n"
    table = b"\n@@ mul8s_1.npy\n" + int8_table()
    # One valid seed (a 64 KiB table): the API's import; byte 0 = 1 turns it into a directory.
    write("lut_directory", "npy_files_valid", bytes([1 + 9]) + csv.encode() + table)
    write("lut_directory", "bin_short_table", b"\x00" + csv.encode() + b"\n@@ mul8s_1.bin\n" + b"\x00" * 64)
    write("lut_directory", "text_table_unlisted", b"\x02" + csv.encode() + b"\n@@ other.txt\n1 2 3\n")
    write("lut_directory", "given_unsigned_disagrees", bytes([1 + 6]) + csv.encode() + table[:200])
    write("lut_directory", "no_signed_column", b"\x03name,PDK45_PWR\nm,1\n\n@@ m.npy\n" + npy("<i4", (1,), b"abcd"))
    write("lut_directory", "bad_rows", b"\x0aname,signed,PDK45_PWR\nm,2,1\n.hidden,1,x\nshort,1\n")
    write("lut_directory", "two_tables_one_name", b"\x0bname,signed,PDK45_PWR\nm,0,1\n\n@@ m.bin\n\n@@ m.txt\n1\n")


def run_filter_seeds():
    seeds = {
        "metric_and_param": "metrics.accuracy > 0.9 AND params.lr = '0.01'",
        "tag_like_status": "tags.`mlflow.user` LIKE '%bob%' and attributes.status != \"FINISHED\"",
        "start_time": "attributes.start_time >= 1700000000000",
        "negative_exponent": "metric.loss <= -1e-3 AND param.`batch size` != '64'",
        "order_desc": "metrics.energy DESC",
        "order_asc": "attr.run_name asc",
        "like_on_metric": "metrics.x LIKE 'a'",
        "unclosed_quote": "params.model = 'lenet",
        "bad_attribute": "attributes.colour = 'red'",
        "empty": "",
    }
    for name, text in seeds.items():
        write("run_filter", name, text)


def encode_stream(text):
    """A textproto agnx.fuzz.SubmitStream as the binary message fuzz_matching_request reads."""
    return subprocess.run(["protoc", f"--proto_path={FUZZ.parent / 'proto'}", f"--proto_path={FUZZ}",
                           "--encode=agnx.fuzz.SubmitStream", "submit_stream.proto"],
                          input=text.encode(), capture_output=True, check=True).stdout


def matching_request_seeds():
    header = ('messages { header { experiment: "lenet" run_name: "r1" lambda: 0.5 '
              'sigma { key: "conv1" value: 0.1 } library: "builtin" num_samples: 64 seed: 7 '
              'pin_exact: "fc3" idempotency_key: "retry-1.a:b_c" } }')
    files = ('messages { model: "PK\\003\\004model" } messages { calibration: "\\223NUMPY" } '
             'messages { calibration: "rest" } messages { test_x: "x" } messages { test_y: "y" }')
    seeds = {
        "valid": f"{header} {files} upload_limit: 4096",
        "header_only": f"{header} upload_limit: 1",
        "over_limit": f"{header} {files} upload_limit: 20",
        "no_header_first": f"{files} {header} upload_limit: 4096",
        "second_header": f"{header} {header} upload_limit: 4096",
        "empty_message": f"{header} messages {{ }} upload_limit: 4096",
        "bad_header_fields": ('messages { header { lambda: inf sigma { key: "fc1" value: nan } '
                              'num_samples: 2000000 idempotency_key: "no spaces!" } } upload_limit: 10'),
        "empty_stream": "upload_limit: 4096",
    }
    for name, text in seeds.items():
        write("matching_request", name, encode_stream(text))


if __name__ == "__main__":
    npy_seeds()
    lut_table_seeds()
    lut_directory_seeds()
    run_filter_seeds()
    matching_request_seeds()
