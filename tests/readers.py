"""Reads Parquet files with one Python reader and prints every column as JSON, each value rendered
the way tests/alltypes.fixture.ts renders Postgres' values (pgRef): integers and decimals as
text, floats as the hex of their float64 bits, bytes and UUIDs as hex, timestamps as microseconds
and dates as days since 1970 (as text), lists as lists. Used by tests/readers.test.ts.

    python tests/readers.py pyarrow|polars|fastparquet|pyarrow-dataset|polars-scan PATH...

A value a reader hands back in a type of its own choosing (fastparquet: DECIMAL as float64) is
rendered from that type ("float:" + the float's hex), so the test sees what the reader gave.
"""
import datetime
import decimal
import json
import struct
import sys
import uuid

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_DATE = datetime.date(1970, 1, 1)


def render(v):
    if v is None:
        return None
    if hasattr(v, "item") and hasattr(v, "dtype"):  # a numpy scalar
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return struct.pack(">d", v).hex()
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, str):
        return v
    if isinstance(v, datetime.datetime):
        delta = v.replace(tzinfo=None) - EPOCH
        return str((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if isinstance(v, datetime.date):
        return str((v - EPOCH_DATE).days)
    if isinstance(v, (list, tuple)):
        return [render(x) for x in v]
    if hasattr(v, "tolist"):  # a numpy array (fastparquet's lists)
        return render(v.tolist())
    if isinstance(v, dict):  # fastparquet parses JSON
        return "json:" + json.dumps(v, sort_keys=True, ensure_ascii=False)
    return "unexpected:" + type(v).__name__ + ":" + repr(v)


def arrow_columns(table):
    """An Arrow table's columns, timestamps and dates as their integers (no datetime range limit)."""
    import pyarrow as pa

    def plain(t):
        if pa.types.is_timestamp(t):
            return pa.int64()
        if pa.types.is_date32(t):
            return pa.int32()
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
            return pa.list_(plain(t.value_type))
        if isinstance(t, pa.ExtensionType):
            return plain(t.storage_type)
        return t

    out = {}
    for name in table.column_names:
        col = table.column(name)
        if isinstance(col.type, pa.ExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], type=col.type.storage_type)
        col = col.cast(plain(col.type))
        out[name] = [render(v) for v in col.to_pylist()]
    return out


def read(reader, paths):
    if reader == "pyarrow":
        import pyarrow as pa
        import pyarrow.parquet as pq

        return arrow_columns(pa.concat_tables([pq.read_table(p) for p in paths]))
    if reader == "pyarrow-dataset":  # the folder recipe of docs/READING.md
        import pyarrow.dataset as ds

        dataset = ds.dataset(paths[0], format="parquet", exclude_invalid_files=True)
        return arrow_columns(dataset.to_table())
    if reader == "polars":
        import polars as pl

        return arrow_columns(pl.concat([pl.read_parquet(p) for p in paths]).to_arrow())
    if reader == "polars-scan":  # the folder recipe of docs/READING.md
        import polars as pl

        return arrow_columns(pl.scan_parquet(paths[0] + "/*.parquet").collect().to_arrow())
    if reader == "fastparquet":
        import pandas as pd

        # pandas 3 infers Arrow-backed strings, and fastparquet 2026.9's Arrow string path ignores
        # repetition levels: LIST<STRING> with NULL elements reads as NULL lists (pyarrow's own
        # files too). Object strings, set before fastparquet is imported, read them right.
        pd.options.future.infer_string = False
        import fastparquet

        # one ParquetFile per file: given a list, fastparquet builds a dataset of its own
        frame = pd.concat([fastparquet.ParquetFile(p).to_pandas() for p in paths], ignore_index=True)
        out = {}
        for name in frame.columns:
            col = frame[name]
            kind = str(col.dtype)
            if kind.startswith("datetime64"):
                # the integers in the column's own unit: "123" for µs, "ns:123" otherwise
                unit = kind[len("datetime64[") :].split(",")[0].rstrip("]")
                ints = col.to_numpy().view("i8")
                nat = col.isna().to_numpy()
                out[name] = [
                    None if nat[i] else (str(int(ints[i])) if unit == "us" else f"{unit}:{int(ints[i])}")
                    for i in range(len(ints))
                ]
                continue
            values = []
            floats = kind.startswith("float")
            for v in col.tolist():
                # a float column's NULL is NaN in pandas: rendered as the NaN it is
                if v is None or (not floats and not isinstance(v, (list, tuple, dict)) and _isna(v)):
                    values.append(None)
                else:
                    values.append(render(v))
            out[name] = values
        return out
    if reader == "footer":  # the raw Thrift footer, as fastparquet parses it
        import fastparquet

        out = []
        for p in paths:
            fmd = fastparquet.ParquetFile(p).fmd
            hexed = lambda b: None if b is None else bytes(b).hex()
            out.append({
                "created_by": fmd.created_by.decode() if isinstance(fmd.created_by, bytes) else fmd.created_by,
                "column_orders": [bool(o.TYPE_ORDER is not None) for o in (fmd.column_orders or [])],
                "chunks": [
                    {
                        "path": ".".join(c.meta_data.path_in_schema),
                        "min": hexed(c.meta_data.statistics.min),
                        "max": hexed(c.meta_data.statistics.max),
                        "min_value": hexed(c.meta_data.statistics.min_value),
                        "max_value": hexed(c.meta_data.statistics.max_value),
                    }
                    for g in fmd.row_groups
                    for c in g.columns
                ],
            })
        return out
    raise SystemExit(f"Cannot read with {reader!r}: use pyarrow, polars or fastparquet")


def _isna(v):
    try:
        import pandas as pd

        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


if __name__ == "__main__":
    json.dump(read(sys.argv[1], sys.argv[2:]), sys.stdout)
