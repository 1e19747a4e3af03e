"""The learned background codec on a tiny seeded model: shapes, exact round trips, decode across
processes and thread counts, bad payloads, the weights manifest, and golden entropy-coder bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from picd.background import remove_text
from picd.entropy_gaussian import FREQ_BITS, IndexedTables, TableDecoder, TableEncoder
from picd.errors import BadStreamError, MissingModelError
from picd.learned.codec import DOWNSCALES, LearnedBackgroundCodec
from picd.learned.model import A_BITS, IntConv, LearnedCodecModel, ModelConfig
from picd.learned.weights import load_model, save_model
from conftest import make_screenshot

TINY = ModelConfig(N=8, M=12, Nh=8, Mz=4, levels=4, lambdas=(0.001, 0.002, 0.004, 0.008))
MODEL_ID = 7
REPO = Path(__file__).resolve().parent.parent


def _tiny_model() -> LearnedCodecModel:
    torch.manual_seed(0)
    model = LearnedCodecModel(TINY)
    with torch.no_grad():  # a narrower z prior than the initial one, as after a little training
        for b in model.z_density.biases:
            b.zero_()
    model.eval()
    model.update()
    return model


@pytest.fixture(scope="module")
def model() -> LearnedCodecModel:
    return _tiny_model()


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory, model) -> Path:
    d = tmp_path_factory.mktemp("weights")
    save_model(model, "tiny", MODEL_ID, d)
    return d


@pytest.fixture(scope="module")
def shot() -> np.ndarray:
    return np.asarray(make_screenshot(size=(200, 120)))


def test_forward_shapes(model):
    model.train()
    try:
        out = model(torch.rand(2, 3, 64, 128), torch.tensor([0, 3]))
    finally:
        model.eval()
    assert out["x_hat"].shape == (2, 3, 64, 128)
    assert out["y_likelihoods"].shape == (2, TINY.M, 4, 8)
    assert out["z_likelihoods"].shape == (2, TINY.Mz, 1, 2)
    assert float(out["y_likelihoods"].detach().min()) > 0 and float(out["y_likelihoods"].detach().max()) <= 1


def test_frozen_tables_are_integer_and_normalised(model):
    for t in (model.y_tables, model.z_tables):
        assert t.freqs.dtype == np.int32
        for r in range(t.rows):
            row = t.freqs[r, : t.sizes[r]]
            assert row.min() >= 1 and int(row.sum()) == 1 << FREQ_BITS


@pytest.mark.parametrize("level", [0, 3])
def test_encoder_and_decoder_agree_on_y_hat(model, level):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 64, 128)
    y = model.g_a(x)
    q = model.quantize(y, level)
    c = model.compress_latent(y, level)
    assert c.shape == (4, 8) and c.level == level
    assert torch.equal(model.decode_latents(c), q.y_hat())
    assert model.decompress(c).shape == (1, 3, 64, 128)


def test_hyper_exact_golden():
    torch.manual_seed(0)
    layer = IntConv(2, 2, 3, shuffle=2)
    with torch.no_grad():
        n = layer.conv.weight.numel()  # values exactly on the weight grid: no rounding anywhere
        layer.conv.weight.copy_(torch.from_numpy((np.arange(n) % 23 - 11) / 512.0).reshape(layer.conv.weight.shape))
        layer.conv.bias.copy_(torch.tensor([0.25, -0.5, 0.125, 1.0, -0.75, 0.5, 0.0, -0.25]))
    z = torch.tensor([[[[1.0, -2.0], [0.0, 3.0]], [[-1.0, 0.0], [2.0, 1.0]]]], dtype=torch.float64)
    out = layer.exact(z * (1 << A_BITS))
    assert out.shape == (1, 2, 4, 4)
    assert torch.equal(out, torch.floor(out))  # integers
    # the training path (float32, straight-through quantisation) lands on the same grid values
    assert torch.allclose(layer(z.float()).double() * (1 << A_BITS), out, atol=1.0)
    assert out.numpy().astype(np.int64).ravel().tolist() == GOLDEN_HYPER


GOLDEN_HYPER = [69, 0, 67, 0, 40, 242, 38, 240, 63, 0, 61, 0, 34, 271, 20, 269,
                0, 129, 0, 127, 0, 0, 0, 0, 0, 134, 0, 109, 8, 0, 6, 0]


def test_entropy_golden_bytes():
    rows = [  # freqs_from_probs of discretised Gaussians, sigma 0.5 and 2 (pinned as integers)
        [1, 1, 4428, 1785948, 13196461, 1785948, 4427, 1, 1],
        [463564, 1112031, 2077549, 3022815, 3425298, 3022815, 2077549, 1112031, 463564],
    ]
    assert all(sum(r) == 1 << FREQ_BITS for r in rows)
    tables = IndexedTables(np.array(rows), np.array([9, 9]), np.array([-4, -4]))
    vals = np.array([0, 1, -1, 0, 0, 3, -4, 2, 0, 0, 1, 0])
    idx = np.array([0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0])
    enc = TableEncoder()
    enc.encode(vals, idx, tables)
    data = enc.finish()
    assert data.hex() == GOLDEN_STREAM
    dec = TableDecoder(data)
    assert np.array_equal(dec.decode(idx, tables), vals)
    dec.finish()


GOLDEN_STREAM = "27ca22c6762af3ae"


def test_codec_round_trip_and_budget(weights_dir, shot):
    codec = LearnedBackgroundCodec(weights_dir=weights_dir)
    payload = codec.compress(shot, 300)
    assert len(payload) <= 300
    assert payload[0] == MODEL_ID
    out = codec.decompress(payload, shot.shape[1], shot.shape[0])
    assert out.shape == shot.shape and out.dtype == np.uint8
    assert np.array_equal(out, codec.decompress(payload, shot.shape[1], shot.shape[0]))


def test_masked_pixels_cost_nothing(weights_dir, shot):
    """Pixels under the text weight do not influence the payload at all."""
    codec = LearnedBackgroundCodec(weights_dir=weights_dir)
    weight = np.ones(shot.shape[:2], np.float32)
    weight[40:80, 20:150] = 0
    noisy = shot.copy()
    noisy[40:80, 20:150] = np.random.default_rng(0).integers(0, 256, (40, 130, 3), dtype=np.uint8)
    a = codec.compress(shot, 400, weight)
    b = codec.compress(noisy, 400, weight)
    assert a == b
    assert a == codec.compress(remove_text(shot, weight < 0.5), 400, weight)


_DECODE_SCRIPT = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from picd.learned.codec import LearnedBackgroundCodec
payload = open(sys.argv[3], "rb").read()
w, h = int(sys.argv[4]), int(sys.argv[5])
out = LearnedBackgroundCodec(weights_dir=sys.argv[2]).decompress(payload, w, h)
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_decode_identical_across_processes_and_threads(weights_dir, shot, tmp_path):
    codec = LearnedBackgroundCodec(weights_dir=weights_dir)
    big = np.asarray(make_screenshot(size=(320, 256)))
    payload = codec.compress(big, 600)
    p = tmp_path / "bg.bin"
    p.write_bytes(payload)
    here = hashlib.sha256(codec.decompress(payload, 320, 256).tobytes()).hexdigest()
    digests = []
    for threads in (1, 2):
        r = subprocess.run(
            [sys.executable, "-c", _DECODE_SCRIPT, str(threads), str(weights_dir), str(p), "320", "256"],
            capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
        )
        digests.append(r.stdout.strip())
    assert digests == [here, here]


def test_bad_payloads(weights_dir, shot):
    codec = LearnedBackgroundCodec(weights_dir=weights_dir)
    h, w = shot.shape[:2]
    payload = codec.compress(shot, 300)
    for bad in (b"", payload[:1], payload[:2]):
        with pytest.raises(BadStreamError):
            codec.decompress(bad, w, h)
    # truncated or corrupted latent streams are caught by the end marker (all of these cases;
    # in general a corruption slips through with probability 2**-8, the container's CRC-32
    # catches it first)
    for bad in (payload[:-1], payload[:-3], payload[: len(payload) // 2]):
        with pytest.raises(BadStreamError):
            codec.decompress(bad, w, h)
    flipped = bytearray(payload)
    flipped[4] ^= 0x10
    with pytest.raises(BadStreamError):
        codec.decompress(bytes(flipped), w, h)
    header = bytearray(payload)
    header[1] = (len(DOWNSCALES) << 4) | 0  # downscale index out of range
    with pytest.raises(BadStreamError):
        codec.decompress(bytes(header), w, h)
    header[1] = TINY.levels  # rate level out of range
    with pytest.raises(BadStreamError):
        codec.decompress(bytes(header), w, h)
    with pytest.raises(MissingModelError, match="model id 99"):
        codec.decompress(bytes([99]) + payload[1:], w, h)


def test_manifest_checks(weights_dir, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(weights_dir, d)
    assert isinstance(load_model(MODEL_ID, d), LearnedCodecModel)
    with pytest.raises(MissingModelError, match="not installed"):
        load_model(MODEL_ID + 1, d)

    altered = tmp_path / "altered"
    shutil.copytree(weights_dir, altered)
    f = altered / "tiny" / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(MissingModelError, match="SHA-256"):
        load_model(MODEL_ID, altered)

    missing = tmp_path / "missing"
    shutil.copytree(weights_dir, missing)
    (missing / "tiny" / "config.json").unlink()
    with pytest.raises(MissingModelError, match="missing"):
        load_model(MODEL_ID, missing)

    with pytest.raises(MissingModelError):
        LearnedBackgroundCodec(weights_dir=tmp_path / "nowhere").compress(np.zeros((64, 64, 3), np.uint8), 100)


def test_config_round_trip():
    assert ModelConfig.from_dict(json.loads(TINY.to_json())) == TINY
    with pytest.raises(ValueError):
        replace(TINY, levels=3)


def test_shipped_weights_pass_their_manifest(shot):
    """The committed model loads (hashes checked) and round-trips a background."""
    from picd.learned.weights import default_model_id

    codec = LearnedBackgroundCodec()
    mid = default_model_id()
    assert load_model(mid).config.levels <= 16
    payload = codec.compress(shot, 400)
    assert len(payload) <= 400 and payload[0] == mid
    assert codec.decompress(payload, shot.shape[1], shot.shape[0]).shape == shot.shape
