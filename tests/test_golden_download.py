"""The MNIST download reads the body in chunks behind a progress bar and returns it whole."""

from golden.data import _download


def test_download_returns_every_byte(tmp_path):
    body = bytes(range(256)) * 1000            # 256 kB: several chunks
    f = tmp_path / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(body)
    assert _download(f.as_uri(), timeout=5) == body
