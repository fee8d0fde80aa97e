"""Finding fonts and choosing one per character, so text in any script renders with real glyphs.

A :class:`FontChain` is an ordered list of font files (primary first, then fallbacks such as DejaVu Sans,
Noto Sans CJK, ...). For every character the first font whose character map (``cmap``) contains it is used;
characters no font covers (most emoji here) are drawn with the primary font, i.e. as its ``.notdef`` box —
never a crash. Fonts are found by path, by ``fc-match`` (fontconfig) or in a few known locations; a missing
fallback font is skipped with a warning, a missing primary font degrades to the next one found, and when no
font file exists at all Pillow's built-in font is used (with a warning) so rendering still works.
"""
from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

#: Fallbacks tried after the configured font, in order (names for fc-match, or paths).
DEFAULT_FALLBACKS: tuple[str, ...] = (
    "DejaVu Sans",
    "Noto Sans CJK SC",
    "DejaVu Sans Mono",
    "DejaVu Math TeX Gyre",
    "Standard Symbols PS",
)

#: Known locations used when fontconfig is not installed (Debian/Ubuntu paths).
KNOWN_PATHS: dict[str, tuple[str, ...]] = {
    "dejavu sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",),
    "dejavu sans mono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",),
    "dejavu math tex gyre": ("/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf",),
    "noto sans cjk sc": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",),
    "latin modern math": ("/usr/share/texmf/fonts/opentype/public/lm-math/latinmodern-math.otf",
                          "/usr/share/texlive/texmf-dist/fonts/opentype/public/lm-math/latinmodern-math.otf"),
    "standard symbols ps": ("/usr/share/fonts/opentype/urw-base35/StandardSymbolsPS.otf",),
}


class FontNotFoundError(FileNotFoundError):
    """No file could be found for a font name or path."""


@functools.lru_cache(maxsize=256)
def find_font(name_or_path: str) -> Path:
    """Resolves a font name (``"DejaVu Sans"``) or a file path to an existing font file.

    Order: an existing path; ``fc-match`` when fontconfig is installed and its answer really matches the
    family asked for (fc-match always answers something); :data:`KNOWN_PATHS`. Raises
    :class:`FontNotFoundError` naming what was tried.
    """
    p = Path(name_or_path).expanduser()
    if p.suffix.lower() in (".ttf", ".otf", ".ttc", ".pfb", ".otc") or "/" in name_or_path:
        if p.is_file():
            return p
        raise FontNotFoundError(f"font file {name_or_path!r} does not exist")
    tried = []
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}\n%{family}", name_or_path], capture_output=True,
                                 text=True, timeout=10, check=False).stdout
            file, _, families = out.partition("\n")
            wanted = name_or_path.lower()
            if file and Path(file).is_file() and any(wanted == f.strip().lower() for f in families.split(",")):
                return Path(file)
            tried.append(f"fc-match answered {families or 'nothing'!r}")
        except (OSError, subprocess.SubprocessError) as e:  # pragma: no cover - fontconfig broken
            tried.append(f"fc-match failed: {e}")
    for cand in KNOWN_PATHS.get(name_or_path.lower(), ()):
        if Path(cand).is_file():
            return Path(cand)
        tried.append(cand)
    raise FontNotFoundError(f"font {name_or_path!r} not found ({'; '.join(tried) or 'no fontconfig, no known path'})")


@functools.lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    """The code points a font file maps to glyphs (first face of a collection)."""
    from fontTools.ttLib import TTFont  # fontTools comes with matplotlib

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        cmap = font.getBestCmap() or {}
        return frozenset(cmap)
    except Exception as e:  # a font fontTools cannot parse still renders; it just claims no coverage
        log.warning("cannot read the character map of %s (%s); using it for no fallback", path, e)
        return frozenset()


@functools.lru_cache(maxsize=256)
def load_font(path: str, size: int, layout: str = "basic") -> ImageFont.FreeTypeFont:
    """A cached Pillow font. ``layout`` "raqm" shapes complex scripts (Arabic) when libraqm is present."""
    engine = ImageFont.Layout.RAQM if layout == "raqm" and _has_raqm() else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, layout_engine=engine)


@functools.lru_cache(maxsize=1)
def _has_raqm() -> bool:
    from PIL import features

    return bool(features.check("raqm"))


@dataclass(frozen=True)
class FontChain:
    """An ordered set of fonts; :meth:`runs` splits text into maximal runs drawable with one font."""

    paths: tuple[str, ...]
    size: int

    @classmethod
    def build(cls, primary: str, fallbacks: tuple[str, ...] | list[str], size: int) -> "FontChain":
        return _build_chain(primary, tuple(fallbacks), int(size))

    @functools.cached_property
    def cmaps(self) -> tuple[frozenset[int], ...]:
        return tuple(_cmap(p) for p in self.paths)

    @functools.cached_property
    def fonts(self) -> tuple:
        """Fonts with Pillow's basic layout (fast; right for Latin, Greek, Cyrillic, CJK ...)."""
        if not self.paths:
            return (ImageFont.load_default(self.size),)
        return tuple(load_font(p, self.size, "basic") for p in self.paths)

    @functools.cached_property
    def shaping_fonts(self) -> tuple:
        """Fonts with libraqm layout (bidi + shaping) for runs in complex scripts such as Arabic."""
        if not self.paths or not _has_raqm():
            return self.fonts
        return tuple(load_font(p, self.size, "raqm") for p in self.paths)

    def draw_run(self, draw, xy: tuple[float, float], index: int, run: str, fill) -> float:
        """Draws one run at baseline ``xy`` (anchor left-baseline); returns its advance width."""
        if _NEEDS_SHAPING.search(run) and _has_raqm() and self.paths:
            font = self.shaping_fonts[index]
            draw.text(xy, run, fill=fill, font=font, anchor="ls", direction="ltr")
            return font.getlength(run, direction="ltr")
        font = self.fonts[index]
        draw.text(xy, run, fill=fill, font=font, anchor="ls")
        return font.getlength(run)

    def font_index(self, ch: str) -> int:
        """Index of the first font that has a glyph for ``ch`` (0, the primary, when none has)."""
        return _font_index(self, ch)

    def covers(self, ch: str) -> bool:
        """Whether any font of the chain has a real glyph for ``ch`` (whitespace always counts)."""
        return ch.isspace() or any(ord(ch) in c for c in self.cmaps)

    @functools.cached_property
    def _primary_has_ascii(self) -> bool:
        return bool(self.cmaps) and all(cp in self.cmaps[0] for cp in range(0x20, 0x7F))

    def runs(self, text: str) -> list[tuple[int, str]]:
        """``text`` as ``[(font_index, run), ...]``; whitespace joins the current run."""
        if not self.paths or (text.isascii() and self._primary_has_ascii):  # the common case, no per-char work
            return [(0, text)] if text else []
        out: list[tuple[int, str]] = []
        cur, buf = -1, []
        for ch in text:
            i = cur if (ch.isspace() and cur >= 0) else self.font_index(ch)
            if i != cur and buf:
                out.append((cur, "".join(buf)))
                buf = []
            cur = i
            buf.append(ch)
        if buf:
            out.append((cur, "".join(buf)))
        return out

    def length(self, text: str) -> float:
        """Advance width of ``text`` in pixels."""
        total = 0.0
        for i, r in self.runs(text):
            if _NEEDS_SHAPING.search(r) and _has_raqm() and self.paths:
                total += self.shaping_fonts[i].getlength(r, direction="ltr")
            else:
                total += self.fonts[i].getlength(r)
        return total

    @functools.cached_property
    def _ascii_widths(self) -> tuple[float, ...]:
        return tuple(self.fonts[0].getlength(chr(c)) for c in range(128))

    def wrap_length(self, text: str) -> float:
        """Width for line breaking: for ASCII the sum of per-character advances (cheap, and never less than
        the kerned width, so wrapped lines never overflow), else the exact :meth:`length`."""
        if self.paths and text.isascii() and self._primary_has_ascii:
            w = self._ascii_widths
            return sum(w[ord(c)] for c in text)
        return self.length(text)

    def with_size(self, size: int) -> "FontChain":
        """The same fonts at another size (cached: its fonts, coverage and width tables are built once)."""
        return _chain(self.paths, int(size))


@functools.lru_cache(maxsize=256)
def _chain(paths: tuple[str, ...], size: int) -> FontChain:
    return FontChain(paths, size)


#: Scripts whose glyphs must be shaped and ordered right-to-left (Hebrew, Arabic, Syriac, Thaana, Indic ...).
_NEEDS_SHAPING = re.compile("[\u0590-\u08ff\u0900-\u0dff\ufb1d-\ufdff\ufe70-\ufeff]")


@functools.lru_cache(maxsize=1 << 16)
def _font_index(chain: FontChain, ch: str) -> int:
    o = ord(ch)
    for i, cm in enumerate(chain.cmaps):
        if o in cm:
            return i
    return 0


@functools.lru_cache(maxsize=64)
def _build_chain(primary: str, fallbacks: tuple[str, ...], size: int) -> FontChain:
    paths: list[str] = []
    for k, name in enumerate((primary, *fallbacks)):
        try:
            p = str(find_font(name))
        except FontNotFoundError as e:
            if k == 0:
                warnings.warn(f"primary font unavailable, using the next font found: {e}", stacklevel=3)
            else:
                log.warning("fallback font skipped: %s", e)
            continue
        if p not in paths:
            paths.append(p)
    if not paths:
        warnings.warn("no font file found at all (install fonts-dejavu-core and fonts-noto-cjk); "
                      "rendering with Pillow's built-in font, non-Latin text will show boxes", stacklevel=3)
    return _chain(tuple(paths), size)
