"""The learned background network: a mean-scale hyperprior with gain-unit variable rate.

Papers
------
- J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston, "Variational image compression with
  a scale hyperprior", ICLR 2018 (g_a/g_s with GDN, h_a/h_s, factorized prior on z).
- D. Minnen, J. Ballé, G. Toderici, "Joint autoregressive and hierarchical priors for learned
  image compression", NeurIPS 2018 (the mean-scale Gaussian conditional; no context model here).
- J. Ballé, N. Johnston, D. Minnen, "Integer networks for data compression with latent-variable
  models", ICLR 2019 (h_s as an integer network so that entropy coding agrees on every machine).
- Z. Cui, J. Wang, S. Gao, T. Guo, Y. Feng, B. Bai, "Asymmetric gained deep image compression
  with continuous rate adaptation", CVPR 2021 (gain / inverse-gain vectors per rate level).

Data flow and notation (level ``l`` in ``0 .. levels-1``; higher = more bits)::

    x ──g_a──> y ──·gain[l]──> y_l ──h_a──> z ──round──> z_hat            (factorized prior)
                                                          │
                           (mu, t) <──h_s (integer net)───┘   sigma = exp(t), index(t)
    y_hat_l = mu + round(y_l - mu)                         (Gaussian conditional N(mu, sigma))
    x_hat = g_s(y_hat_l · inv_gain[l])

``x`` is RGB in 0..1, sides multiples of `PAD` (64). ``y`` has ``M`` channels at 1/16 of the
resolution, ``z`` has ``Mz`` channels at 1/64.

Bit-exactness: ``h_s`` has weights on a 2**-12 grid and activations on a 2**-8 grid (`IntConv`);
`LearnedCodecModel.hyper_exact` evaluates it on exact integers held in float64 (every partial
sum is an integer below 2**53, so no rounding happens in any summation order, on any CPU), and
turns ``t`` into an index into the scale table with integer arithmetic. Encoder and decoder
therefore compute the same ``mu`` and the same table rows everywhere; symbols are coded by
`picd.entropy_gaussian` under integer tables frozen at export (`update`). ``g_s`` runs in
float32: its output may differ in the last bit of a float across CPU types, which can move a
pixel by one level after rounding, but never desynchronises the entropy decoder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from picd.entropy_gaussian import IndexedTables, TableDecoder, TableEncoder, freqs_from_probs
from picd.errors import BadStreamError

PAD = 64
"""Input sides must be multiples of this (g_a halves 4 times, h_a twice)."""

W_BITS = 12  # integer h_s: weights on a 2**-W_BITS grid
A_BITS = 8   # activations (and h_s outputs) on a 2**-A_BITS grid
_W_MAX = 15.0
_A_MAX = float(1 << 12)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and entropy-model constants; saved as ``config.json`` beside the weights.

    Defaults are the size intended for the real model; tests and the smoke model pass smaller
    widths.
    """

    N: int = 64            # width of g_a / g_s
    M: int = 96            # channels of y
    Nh: int = 48           # width of h_a / h_s
    Mz: int = 32           # channels of z
    levels: int = 8        # rate levels (gain vectors)
    lambdas: tuple[float, ...] = (0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128)
    scale_min: float = 0.11
    scale_max: float = 48.0
    n_scales: int = 64     # rows of the Gaussian table
    tail_bits: int = 20    # tables cover all but 2**-tail_bits of each distribution
    z_max: int = 64        # largest |z_hat| value a factorized table may cover

    def __post_init__(self) -> None:
        if len(self.lambdas) != self.levels:
            raise ValueError("need one lambda per rate level")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"model_type", "format"}
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known}
        return cls(**kw)

    def to_json(self) -> str:
        d = {"model_type": "picd-hyperprior-gain", "format": 1, **asdict(self)}
        d["lambdas"] = list(self.lambdas)
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    # -- the integer scale table -----------------------------------------------------------

    @property
    def t_origin(self) -> int:
        """``t`` (on the 2**-A_BITS grid) where row 0 of the scale table starts."""
        return round(math.log(self.scale_min) * (1 << A_BITS))

    @property
    def t_step(self) -> int:
        """Width of one scale-table row in ``t`` units (integer)."""
        span = (math.log(self.scale_max) - math.log(self.scale_min)) * (1 << A_BITS)
        return max(1, math.ceil(span / self.n_scales))

    def table_scales(self) -> np.ndarray:
        """sigma of each row: exp of the row's centre (used once, when tables are frozen)."""
        c = self.t_origin + (np.arange(self.n_scales) + 0.5) * self.t_step
        return np.exp(c / (1 << A_BITS))


@dataclass(frozen=True)
class CompressedLatents:
    """What `LearnedCodecModel.compress` returns and `decompress` takes.

    ``data``: one range-coded stream (z_hat, then y_hat - mu, then an end marker).
    ``shape``: (height, width) of y; z is a quarter of it per side. ``level``: the rate level.
    """

    data: bytes
    shape: tuple[int, int]
    level: int


@dataclass(frozen=True)
class Quantized:
    """The integers an encoder codes (numpy, channel-first, batch dropped).

    ``z_hat`` and its table rows ``z_rows`` (the channel); ``mu`` (units of 2**-A_BITS) and the
    scale-table ``rows`` from the exact h_s; ``symbols = round(y - mu)``, clamped to the rows.
    ``y_hat = symbols + mu / 2**A_BITS``.
    """

    z_hat: np.ndarray
    z_rows: np.ndarray
    mu: np.ndarray
    rows: np.ndarray
    symbols: np.ndarray

    def y_hat(self) -> torch.Tensor:
        return torch.from_numpy((self.symbols * (1 << A_BITS) + self.mu) / float(1 << A_BITS)).float()[None]


# ------------------------------------------------------------------------------------------
# Layers


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016); ``inverse`` for IGDN.

    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``; beta and gamma are kept non-negative
    by squaring their parameters.
    """

    def __init__(self, ch: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(ch))
        self.gamma = nn.Parameter(torch.eye(ch) * 0.3162)  # sqrt(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta**2 + 1e-6
        gamma = (self.gamma**2)[:, :, None, None]
        norm = torch.sqrt(F.conv2d(x * x, gamma, beta))
        return x * norm if self.inverse else x / norm


def _conv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=k // 2, output_padding=s - 1)


def _ste_floor(x: torch.Tensor, bits: int) -> torch.Tensor:
    s = float(1 << bits)
    return x + (torch.floor(x * s) / s - x).detach()


class IntConv(nn.Module):
    """3x3 (or 1x1) convolution of the integer hyper-synthesis, optional pixel shuffle and ReLU.

    Training (`forward`) sees the quantised weights and activations through straight-through
    estimators; `exact` evaluates the same layer on integers held in float64.
    """

    def __init__(self, cin: int, cout: int, k: int = 3, shuffle: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * shuffle * shuffle, k, padding=k // 2)
        self.shuffle = shuffle
        self.relu = relu

    def _post(self, x: torch.Tensor) -> torch.Tensor:
        if self.shuffle > 1:
            x = F.pixel_shuffle(x, self.shuffle)
        return torch.relu(x) if self.relu else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight.clamp(-_W_MAX, _W_MAX)
        w = w + (torch.round(w * (1 << W_BITS)) / (1 << W_BITS) - w).detach()
        b = self.conv.bias + (torch.round(self.conv.bias * (1 << (W_BITS + A_BITS))) / (1 << (W_BITS + A_BITS)) - self.conv.bias).detach()
        y = F.conv2d(x, w, b, padding=self.conv.padding)
        return self._post(_ste_floor(y, A_BITS)).clamp(-_A_MAX, _A_MAX)

    def int_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights (units 2**-W_BITS) and bias (units 2**-(W_BITS+A_BITS)) as float64 integers."""
        w = torch.round(self.conv.weight.detach().double().clamp(-_W_MAX, _W_MAX) * (1 << W_BITS))
        b = torch.round(self.conv.bias.detach().double() * (1 << (W_BITS + A_BITS)))
        return w, b

    def exact(self, a: torch.Tensor) -> torch.Tensor:
        """``a``: activations as float64 integers in units of 2**-A_BITS; same units out."""
        w, b = self.int_params()
        acc = F.conv2d(a, w, b, padding=self.conv.padding)  # exact: integers < 2**53
        out = torch.floor(acc / (1 << W_BITS))  # division by a power of two is exact
        return self._post(out).clamp(-_A_MAX * (1 << A_BITS), _A_MAX * (1 << A_BITS))


class FactorizedDensity(nn.Module):
    """Ballé et al. 2018's non-parametric density per channel (the prior of z).

    A monotone per-channel function ``c(v)`` gives the CDF ``sigmoid(c(v))``; the likelihood of
    an integer (or noisy) value is ``sigmoid(c(v + 1/2)) - sigmoid(c(v - 1/2))``.
    """

    def __init__(self, ch: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((ch, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(ch, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(ch, dims[i + 1], 1)))

    def logits_cdf(self, v: torch.Tensor) -> torch.Tensor:
        """``v`` (C, 1, n) -> ``c(v)`` (C, 1, n)."""
        x = v
        for i in range(len(self.matrices)):
            x = torch.matmul(F.softplus(self.matrices[i]), x) + self.biases[i]
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        c = z.shape[1]
        v = z.transpose(0, 1).reshape(c, 1, -1)
        lo, hi = self.logits_cdf(v - 0.5), self.logits_cdf(v + 0.5)
        sign = -torch.sign(lo + hi).detach()  # evaluate in the tail where it is accurate
        lik = torch.abs(torch.sigmoid(sign * hi) - torch.sigmoid(sign * lo))
        return lik.reshape(c, z.shape[0], *z.shape[2:]).transpose(0, 1)


def _gaussian_likelihood(v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """P(round(v) under N(0, sigma)) for v = y - mu: Phi((v+.5)/s) - Phi((v-.5)/s), tail-safe."""
    v = torch.abs(v)
    up = 0.5 * torch.erfc(-(0.5 - v) / (sigma * math.sqrt(2)))
    lo = 0.5 * torch.erfc(-(-0.5 - v) / (sigma * math.sqrt(2)))
    return up - lo


LIKELIHOOD_FLOOR = 1e-9


# ------------------------------------------------------------------------------------------
# The model


class LearnedCodecModel(nn.Module):
    """Mean-scale hyperprior with gain units (see the module docstring for papers and notation).

    ``forward(x, level)`` trains: returns ``x_hat`` and the likelihoods of ``y`` and ``z``
    (additive-noise proxy for the rate; ``y_hat`` for ``g_s`` is rounded with a straight-through
    gradient). ``compress``/``decompress`` code for real and need `update` (frozen tables) first.
    """

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        N, M, Nh, Mz = cfg.N, cfg.M, cfg.Nh, cfg.Mz
        self.g_a = nn.Sequential(_conv(3, N), GDN(N), _conv(N, N), GDN(N), _conv(N, N), GDN(N), _conv(N, M))
        self.g_s = nn.Sequential(
            _deconv(M, N), GDN(N, inverse=True), _deconv(N, N), GDN(N, inverse=True),
            _deconv(N, N), GDN(N, inverse=True), _deconv(N, 3),
        )
        self.h_a = nn.Sequential(
            _conv(M, Nh, 3, 1), nn.ReLU(), _conv(Nh, Nh, 5, 2), nn.ReLU(), _conv(Nh, Mz, 5, 2)
        )
        self.h_s = nn.ModuleList([
            IntConv(Mz, Nh, 3),
            IntConv(Nh, Nh, 3, shuffle=2),
            IntConv(Nh, Nh, 3, shuffle=2),
            IntConv(Nh, 2 * M, 1, relu=False),
        ])
        g = torch.exp(torch.linspace(math.log(0.5), math.log(4.0), cfg.levels))
        self.gain = nn.Parameter(g[:, None].repeat(1, M))
        self.inv_gain = nn.Parameter((1 / g)[:, None].repeat(1, M))
        self.z_density = FactorizedDensity(Mz)
        self.y_tables: IndexedTables | None = None
        self.z_tables: IndexedTables | None = None

    # -- training -------------------------------------------------------------------------

    def _gains(self, level: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.abs(self.gain[level])
        ig = torch.abs(self.inv_gain[level])
        if g.ndim == 1:
            g, ig = g[None], ig[None]
        return g[:, :, None, None], ig[:, :, None, None]

    def hyper(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h_s in float (training): ``mu`` and ``t`` (log sigma), both on the 2**-A_BITS grid."""
        a = z_hat
        for layer in self.h_s:
            a = layer(a)
        mu, t = a.chunk(2, dim=1)
        return mu, t

    def forward(self, x: torch.Tensor, level: int | torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` (B, 3, H, W) in 0..1; ``level`` an int or a (B,) long tensor."""
        g, ig = self._gains(level)
        y = self.g_a(x) * g
        z = self.h_a(y)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5) if self.training else torch.round(z)
        z_hat = z + (torch.round(z) - z).detach()
        z_lik = self.z_density.likelihood(z_noisy).clamp_min(LIKELIHOOD_FLOOR)
        mu, t = self.hyper(z_hat)
        sigma = torch.exp(t).clamp(self.config.scale_min, self.config.scale_max)
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5) if self.training else torch.round(y - mu) + mu
        y_lik = _gaussian_likelihood(y_noisy - mu, sigma).clamp_min(LIKELIHOOD_FLOOR)
        y_hat = mu + (torch.round(y - mu) - (y - mu)).detach() + (y - mu)
        x_hat = self.g_s(y_hat * ig)
        return {"x_hat": x_hat, "y_likelihoods": y_lik, "z_likelihoods": z_lik}

    # -- frozen entropy tables ------------------------------------------------------------

    @torch.no_grad()
    def update(self) -> None:
        """Freeze the integer tables (CompressAI's ``update()``): run once before export."""
        cfg = self.config
        tail = 2.0 ** -cfg.tail_bits
        # Gaussian rows: support [-R, R], R where the two-sided tail drops below 2**-tail_bits.
        scales = cfg.table_scales()
        radii = [max(1, math.ceil(s * math.sqrt(2) * _erfcinv(tail) + 0.5)) for s in scales]
        K = 2 * max(radii) + 1
        freqs = np.zeros((cfg.n_scales, K), np.int32)
        for i, (s, r) in enumerate(zip(scales, radii)):
            v = torch.arange(-r, r + 1, dtype=torch.float64)
            p = _gaussian_likelihood(v, torch.tensor(s, dtype=torch.float64)).numpy()
            p[0] += 0.5 * math.erfc((r + 0.5) / (s * math.sqrt(2)))  # tails fold into the ends
            p[-1] += 0.5 * math.erfc((r + 0.5) / (s * math.sqrt(2)))
            freqs[i, : 2 * r + 1] = freqs_from_probs(p)
        sizes = np.array([2 * r + 1 for r in radii])
        self.y_tables = IndexedTables(freqs, sizes, -(sizes - 1) // 2)
        # Factorized rows: per channel, over [lo, hi] covering all but the tail.
        Mz = cfg.Mz
        v = torch.arange(-cfg.z_max, cfg.z_max + 1, dtype=torch.float32)
        c_lo = self.z_density.logits_cdf(v.repeat(Mz, 1, 1) - 0.5)[:, 0].double()
        cdf_lo = torch.sigmoid(c_lo).numpy()
        cdf_hi = torch.sigmoid(self.z_density.logits_cdf(v.repeat(Mz, 1, 1) + 0.5)[:, 0].double()).numpy()
        rows, offs, sz = [], [], []
        for c in range(Mz):
            keep = np.flatnonzero((cdf_hi[c] > tail / 2) & (cdf_lo[c] < 1 - tail / 2))
            a, b = (int(keep[0]), int(keep[-1])) if keep.size else (cfg.z_max, cfg.z_max)
            p = np.clip(cdf_hi[c, a : b + 1] - cdf_lo[c, a : b + 1], 0, None)
            p[0] += cdf_lo[c, a]
            p[-1] += 1 - cdf_hi[c, b]
            rows.append(freqs_from_probs(p) if p.size > 1 else np.array([1 << 24], np.int32))
            offs.append(a - cfg.z_max)
            sz.append(b - a + 1)
        Kz = max(sz)
        zf = np.zeros((Mz, Kz), np.int32)
        for c, r in enumerate(rows):
            zf[c, : r.size] = r
        self.z_tables = IndexedTables(zf, np.array(sz), np.array(offs))

    def tables_state(self) -> dict[str, torch.Tensor]:
        """The frozen tables as tensors, saved beside the weights (keys ``tables.*``)."""
        if self.y_tables is None or self.z_tables is None:
            raise RuntimeError("call update() before exporting")
        out = {}
        for name, t in (("y", self.y_tables), ("z", self.z_tables)):
            out[f"tables.{name}_freqs"] = torch.from_numpy(t.freqs.copy())
            out[f"tables.{name}_sizes"] = torch.from_numpy(t.sizes.astype(np.int32))
            out[f"tables.{name}_offsets"] = torch.from_numpy(t.offsets.astype(np.int32))
        return out

    def load_tables(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of `tables_state`; raises ValueError on inconsistent tables."""
        for name in ("y", "z"):
            t = IndexedTables(*(state[f"tables.{name}_{k}"].numpy() for k in ("freqs", "sizes", "offsets")))
            setattr(self, f"{name}_tables", t)
        if self.y_tables.rows != self.config.n_scales or self.z_tables.rows != self.config.Mz:
            raise ValueError("table sizes disagree with config.json")

    # -- exact hyper-synthesis ------------------------------------------------------------

    @torch.no_grad()
    def hyper_exact(self, z_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """h_s on integers: ``z_hat`` (Mz, hz, wz) ints -> ``mu`` in units of 2**-A_BITS (int64,
        (M, 4hz, 4wz)) and the scale-table row of every element of y (int64, same shape)."""
        a = torch.from_numpy(np.asarray(z_hat, dtype=np.float64) * (1 << A_BITS))[None]
        for layer in self.h_s:
            a = layer.exact(a)
        mu, t = (v[0].numpy().astype(np.int64) for v in a.chunk(2, dim=1))
        cfg = self.config
        rows = np.clip(np.floor_divide(t - cfg.t_origin, cfg.t_step), 0, cfg.n_scales - 1)
        return mu, rows

    # -- coding ---------------------------------------------------------------------------

    @torch.no_grad()
    def compress(self, x: torch.Tensor, level: int) -> CompressedLatents:
        """``x`` (1, 3, H, W) in 0..1 with H, W multiples of `PAD`."""
        if self.y_tables is None or self.z_tables is None:
            raise RuntimeError("call update() (or load exported weights) before compress()")
        if x.shape[0] != 1 or x.shape[2] % PAD or x.shape[3] % PAD:
            raise ValueError(f"expected (1, 3, H, W) with sides multiples of {PAD}, got {tuple(x.shape)}")
        return self.compress_latent(self.g_a(x), level)

    @torch.no_grad()
    def compress_latent(self, y: torch.Tensor, level: int) -> CompressedLatents:
        """`compress` from ``y = g_a(x)`` (so a rate search runs g_a once)."""
        if self.y_tables is None or self.z_tables is None:
            raise RuntimeError("call update() (or load exported weights) before compress()")
        q = self.quantize(y, level)
        enc = TableEncoder()
        enc.encode(q.z_hat, q.z_rows, self.z_tables)
        enc.encode(q.symbols, q.rows, self.y_tables)
        return CompressedLatents(enc.finish(), (int(y.shape[2]), int(y.shape[3])), int(level))

    @torch.no_grad()
    def quantize(self, y: torch.Tensor, level: int) -> "Quantized":
        """The encoder's integer decisions for ``y = g_a(x)`` (1, M, h, w) at ``level``."""
        assert self.y_tables is not None and self.z_tables is not None
        g, _ = self._gains(level)
        y = y * g
        z = self.h_a(y)[0].double().numpy()
        z_rows = np.broadcast_to(np.arange(self.config.Mz)[:, None, None], z.shape)
        z_hat = self.z_tables.clamp(np.rint(z), z_rows)
        mu, rows = self.hyper_exact(z_hat)
        sym = self.y_tables.clamp(np.rint(y[0].double().numpy() - mu / float(1 << A_BITS)), rows)
        return Quantized(z_hat, z_rows, mu, rows, sym)

    @torch.no_grad()
    def decompress(self, c: CompressedLatents) -> torch.Tensor:
        """x_hat (1, 3, 16 h, 16 w) in 0..1 (clamped) from `compress`'s output.

        Raises `BadStreamError` for streams that do not decode.
        """
        y_hat = self.decode_latents(c)
        _, ig = self._gains(c.level)
        return self.g_s(y_hat * ig).clamp(0, 1)

    @torch.no_grad()
    def decode_latents(self, c: CompressedLatents) -> torch.Tensor:
        """y_hat (1, M, h, w) float32 from the stream (the exact part of decoding)."""
        if self.y_tables is None or self.z_tables is None:
            raise RuntimeError("call update() (or load exported weights) before decompress()")
        h, w = c.shape
        if h % 4 or w % 4 or h <= 0 or w <= 0 or not 0 <= c.level < self.config.levels:
            raise BadStreamError("corrupted learned background section (latent shape or level)")
        dec = TableDecoder(c.data)
        zshape = (self.config.Mz, h // 4, w // 4)
        z_rows = np.broadcast_to(np.arange(self.config.Mz)[:, None, None], zshape)
        z_hat = dec.decode(z_rows, self.z_tables)
        mu, rows = self.hyper_exact(z_hat)
        sym = dec.decode(rows, self.y_tables)
        dec.finish()
        y_hat = (sym * (1 << A_BITS) + mu) / float(1 << A_BITS)  # exact in float64
        return torch.from_numpy(y_hat).float()[None]


def _erfcinv(p: float) -> float:
    """x with erfc(x) = p (bisection; only used when freezing tables)."""
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if math.erfc(mid) > p:
            lo = mid
        else:
            hi = mid
    return hi
