"""Reads a message body straight from a Mailstead data directory, wherever the store keeps it:
inline in the database, in a shared segment file at an offset, or in a file of its own. For
interop checks that compare what clients received with what is stored."""
import os

# Columns of `blobs` (aliased b) that body() takes, in order.
COLUMNS = "b.hash, b.data, b.seg, b.off, b.size"


def body(data, digest, inline, seg, off, size):
    if inline is not None:
        return bytes(inline)
    if seg is not None:
        with open(os.path.join(data, "blobs", "segments", f"{seg:010}.seg"), "rb") as f:
            f.seek(off)
            return f.read(size)
    with open(os.path.join(data, "blobs", digest[:2], digest), "rb") as f:
        return f.read()
