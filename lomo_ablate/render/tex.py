"""A sandboxed LaTeX renderer: user text → safe LaTeX → one batched ``latex`` + ``dvipng`` run → masks.

Safety, in two independent layers:

1. :func:`to_latex` only lets through control sequences from an allowlist (math symbols and operators,
   a few text-formatting commands, a fixed set of environments). Control sequences that can touch files,
   the shell or TeX's own rules (``\\input``, ``\\write18``, ``\\openout``, ``\\read``, ``\\catcode``,
   ``\\def``, ``\\csname``, ``\\special``, ``^^`` escapes, ...) make the item :class:`UnsafeTeXError` — it is
   then rendered by the text renderer instead. Other unknown commands in prose are shown literally
   (``\\textbackslash``); unknown commands inside math are refused. Braces must balance, so one item can
   never reach into the next item of a batch.
2. :func:`run_latex` runs TeX with ``-no-shell-escape``, kpathsea's paranoid file access
   (``openin_any=p``, ``openout_any=p``, ``shell_escape=f``, ``TEXMFOUTPUT`` = the temp dir) in an empty
   temporary working directory, ``dvipng --nogs`` (no Ghostscript for PostScript specials), and a time limit
   per run after which the whole process group is killed.

Batching: one document holds one page per item (each item in a ``minipage``, which cannot break across
pages), one ``latex`` run and one ``dvipng`` call render all of them (~1 ms per item instead of ~150 ms).
A batch that fails, or yields the wrong number of pages, is retried item by item.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from lomo_ablate.render.mathspans import math_ranges


class UnsafeTeXError(ValueError):
    """The text holds a control sequence (or construct) that is never passed to TeX."""


class UnsupportedTeXError(ValueError):
    """The text holds something this TeX setup cannot typeset (e.g. CJK characters); use another renderer."""


class TeXRunError(RuntimeError):
    """``latex`` or ``dvipng`` failed or ran out of time; the message holds TeX's first error line."""


@functools.lru_cache(maxsize=1)
def tex_binaries() -> dict[str, str] | None:
    """The absolute paths of ``latex`` and ``dvipng`` (resolved once per process through ``PATH``), or None
    when one is missing. TeX is always run by these paths, never looked up again."""
    found = {name: shutil.which(name) for name in ("latex", "dvipng")}
    if not all(found.values()):
        return None
    # absolute, but not through symlinks: `latex` is a link to pdftex, which picks its format from its name
    return {name: os.path.abspath(path) for name, path in found.items()}


def tex_available() -> bool:
    """Whether ``latex`` and ``dvipng`` are on PATH (checked once per process)."""
    return tex_binaries() is not None


tex_available.cache_clear = tex_binaries.cache_clear  # type: ignore[attr-defined]  (forget the resolved paths)


# --- what may reach TeX ---------------------------------------------------------------------------------

_GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi "
          "varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi "
          "Sigma Upsilon Phi Psi Omega")
_MATH = (
    "frac dfrac tfrac cfrac binom dbinom tbinom sqrt sum prod coprod int iint iiint oint lim liminf limsup "
    "sup inf max min arg det exp log ln lg sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth "
    "gcd deg dim ker hom Pr mod bmod pmod pod left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr "
    "middle cdot cdots ldots dots vdots ddots times div pm mp ast star circ bullet oplus ominus otimes oslash "
    "odot wedge vee cap cup setminus le leq ge geq ne neq approx equiv sim simeq cong propto ll gg prec succ "
    "preceq succeq subset subseteq supset supseteq subsetneq supsetneq in notin ni mid nmid parallel perp "
    "models vdash dashv to gets mapsto rightarrow leftarrow Rightarrow Leftarrow leftrightarrow "
    "Leftrightarrow longrightarrow longleftarrow Longrightarrow Longleftarrow longmapsto implies iff "
    "uparrow downarrow Uparrow Downarrow updownarrow nearrow searrow swarrow nwarrow xrightarrow "
    "xleftarrow hookrightarrow infty partial nabla forall exists nexists emptyset varnothing neg lnot land "
    "lor top bot angle measuredangle triangle square Box Diamond ell hbar imath jmath aleph Re Im wp prime "
    "backslash langle rangle lfloor rfloor lceil rceil lvert rvert lVert rVert vert Vert "
    "hat widehat bar overline underline tilde widetilde vec dot ddot dddot breve check acute grave "
    "overbrace underbrace overrightarrow overleftarrow overset underset stackrel boxed "
    "mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak mathscr boldsymbol bm operatorname "
    "text textrm textbf textit textnormal mbox displaystyle textstyle scriptstyle limits nolimits "
    "quad qquad enspace thinspace not therefore because colon cdotp degree circledast "
    "leqslant geqslant lesssim gtrsim triangleq coloneqq doteq lhd rhd unlhd unrhd sqcup sqcap uplus amalg "
    "dagger ddagger smallsetminus complement blacksquare checkmark hline cline substack phantom hphantom "
    "vphantom tag notag nonumber intercal lbrace rbrace vartriangle mathop mathrel mathbin ")
_TEXT = ("textbf textit emph underline texttt textsc textsf textrm textnormal ldots dots textbackslash "
         "textasciitilde textasciicircum textless textgreater textbar textbullet textdegree S P copyright "
         "dag ddag quad qquad item par newline linebreak noindent centering small large Large footnotesize "
         "normalsize o O ss ae AE oe OE aa AA l L i j LaTeX TeX today")
MATH_COMMANDS = frozenset((_GREEK + " " + _MATH + " " + _TEXT).split())
TEXT_COMMANDS = frozenset(_TEXT.split())
MATH_ENVS = frozenset("equation equation* align align* aligned alignat alignat* alignedat gather gather* "
                      "gathered multline multline* split cases dcases matrix pmatrix bmatrix Bmatrix vmatrix "
                      "Vmatrix smallmatrix array subarray eqnarray eqnarray* displaymath math".split())
TEXT_ENVS = frozenset("itemize enumerate center quote flushleft flushright".split())
#: Numbered display environments are typeset unnumbered (no "(1)" in the image).
_UNNUMBERED = {"equation": "equation*", "align": "align*", "gather": "gather*", "multline": "multline*",
               "eqnarray": "eqnarray*", "alignat": "alignat*"}
#: Refused outright (with this reason) wherever they occur: file, shell and TeX-rule access.
DENIED = frozenset(
    "input include includeonly InputIfFileExists IfFileExists openin openout read readline closein closeout "
    "write write18 immediate message typeout special catcode lccode uccode sfcode mathcode delcode "
    "def edef gdef xdef let futurelet csname endcsname expandafter noexpand string scantokens detokenize "
    "unexpanded newcommand renewcommand providecommand DeclareRobustCommand newenvironment renewenvironment "
    "usepackage RequirePackage documentclass makeatletter makeatother jobname output shipout everypar "
    "everymath everydisplay everyhbox everyvbox everyjob everyeof everycr errhelp errmessage loop repeat "
    "pdfprimitive primitive directlua luaexec endinput batchmode nonstopmode scrollmode errorstopmode "
    "font pagebreak newpage clearpage verb verbatiminput lstinputlisting includegraphics href url "
    "bibliography newread newwrite newtoks afterassignment aftergroup global long outer uppercase lowercase "
    "chardef mathchardef countdef dimendef skipdef toksdef muskipdef pdfshellescape shellescape "
    "openany tracingonline showlists show showbox showthe dump end csdef".split())

#: One-character control symbols passed through: spacing, escaped specials, accents, math delimiters.
_SYMBOLS = frozenset("\\,;!:{}$%&#_ '\"`^~=.()[]|/-<>@\n")
_CS = re.compile(r"\\([A-Za-z]+|.)", re.S)
_ENV_ARG = re.compile(r"\s*\{([^{}]*)\}")
#: Characters pdfLaTeX with inputenc utf8 + OT1 typesets here: ASCII, Latin-1, Latin Extended-A and
#: common punctuation. Anything else (CJK, Arabic, Greek letters, math symbols typed as Unicode) goes to
#: the text renderer, which has per-character font fallback.
_TEX_CHARS = re.compile(r"[^\n\t\x20-\x7e\u00a0-\u017f\u2013\u2014\u2018\u2019\u201c\u201d\u2026]")
_TEXT_SPECIALS = {"#": r"\#", "%": r"\%", "&": r"\&", "_": r"\_", "^": r"\textasciicircum{}",
                  "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
                  "$": r"\$"}


def _check_and_rewrite(src: str, math: bool) -> str:
    """Checks every control sequence of one segment; returns the segment as LaTeX (text specials escaped)."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            m = _CS.match(src, i)
            if m is None:  # a trailing lone backslash
                out.append(r"\textbackslash{}" if not math else "")
                if math:
                    raise UnsafeTeXError("a lone backslash at the end of a formula")
                i += 1
                continue
            name = m.group(1)
            if name not in ("begin", "end") and (name in DENIED or name.endswith("def")):
                raise UnsafeTeXError(f"control sequence \\{name} is not allowed")
            if name in ("begin", "end"):
                a = _ENV_ARG.match(src, m.end())
                env = a.group(1) if a else None
                allowed = (MATH_ENVS | TEXT_ENVS) if math else TEXT_ENVS
                if env in allowed:
                    out.append(f"\\{name}{{{_UNNUMBERED.get(env, env)}}}")
                    i = a.end()
                    continue
                if math:
                    raise UnsupportedTeXError(f"environment {env!r} is not in the allowed list")
                out.append(r"\textbackslash{}" + name)  # prose: shown literally
                i = m.end()
                continue
            if name.isalpha():
                if name in (MATH_COMMANDS if math else TEXT_COMMANDS):
                    out.append(m.group(0))
                elif math:
                    raise UnsupportedTeXError(f"command \\{name} is not in the allowed list")
                else:
                    out.append(r"\textbackslash{}" + name)
            elif name in _SYMBOLS:  # \\ \, \{ \% \' ... : harmless one-character control symbols
                out.append(m.group(0))
            elif math:
                raise UnsupportedTeXError(f"control symbol \\{name} is not in the allowed list")
            else:
                out.append(r"\textbackslash{}" + _TEXT_SPECIALS.get(name, name))
            i = m.end()
            continue
        if c == "^" and src.startswith("^^", i):
            raise UnsafeTeXError("^^ character escapes are not allowed")
        if c == "%":
            out.append(r"\%")
        elif c == "#":
            out.append(r"\#")
        elif not math and c in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[c])
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _check_braces(text: str) -> None:
    depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                raise UnsafeTeXError("unbalanced braces: '}' without '{'")
        i += 1
    if depth:
        raise UnsafeTeXError("unbalanced braces: '{' without '}'")


def _math_body(seg: str) -> str:
    """The LaTeX for one math range found by :func:`~lomo_ablate.render.mathspans.math_ranges`."""
    if seg.startswith("$$"):
        return r"\[" + _check_and_rewrite(seg[2:-2], True) + r"\]"
    if seg.startswith("$"):
        return "$" + _check_and_rewrite(seg[1:-1], True) + "$"
    if seg.startswith(("\\(", "\\[")):
        return seg[:2] + _check_and_rewrite(seg[2:-2], True) + seg[-2:]
    if seg.startswith("\\begin{"):
        env = seg[len("\\begin{"):seg.index("}")]
        body = _check_and_rewrite(seg, True)
        if env in MATH_ENVS and env not in _UNNUMBERED and not env.endswith("*") \
                and env not in ("displaymath", "math"):
            return r"\[" + body + r"\]"  # aligned, cases, pmatrix ... need math mode around them
        return body
    # a bare command such as \frac{1}{2}: math commands become inline math, text ones stay as they are
    name = seg[1:].split("{", 1)[0].split("[", 1)[0].split("_", 1)[0].split("^", 1)[0]
    if name not in MATH_COMMANDS or name in TEXT_COMMANDS:  # \textbf{..}, or prose like C:\Users
        return _check_and_rewrite(seg, False)
    return "$" + _check_and_rewrite(seg, True) + "$"


def safe_math_ranges(text: str) -> list[tuple[int, int]]:
    """``mathspans.math_ranges``, with any internal error turned into :class:`UnsupportedTeXError` (so a
    segmentation bug makes the span fall back to the text renderer instead of failing the record)."""
    try:
        return math_ranges(text)
    except Exception as e:  # noqa: BLE001 - reported through the fallback reason
        raise UnsupportedTeXError(f"math segmentation failed: {type(e).__name__}: {e}") from e


def to_latex(text: str) -> str:
    """User text → a LaTeX paragraph body that is safe to typeset (text mode with inline/display math).

    Raises :class:`UnsafeTeXError` for forbidden constructs and :class:`UnsupportedTeXError` for text this
    setup cannot typeset; callers render such text with another renderer.
    """
    bad = _TEX_CHARS.search(text)
    if bad:
        raise UnsupportedTeXError(f"character {bad.group(0)!r} (U+{ord(bad.group(0)):04X}) is not typeset by "
                                  f"this TeX setup")
    if "^^" in text:  # TeX turns ^^5c into a backslash before it tokenises: refuse the notation anywhere
        raise UnsafeTeXError("^^ character escapes are not allowed")
    _check_braces(text)
    out, pos = [], 0
    for s, e in safe_math_ranges(text):
        out.append(_check_and_rewrite(text[pos:s], False))
        out.append(_math_body(text[s:e]))
        pos = e
    out.append(_check_and_rewrite(text[pos:], False))
    body = "".join(out)
    _check_braces(body)
    return body


# --- running TeX -----------------------------------------------------------------------------------------

_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb}
\pagestyle{empty}
\setlength{\parindent}{0pt}
\setlength{\textwidth}{%(width).2fpt}
\setlength{\textheight}{15000pt}
\setlength{\paperheight}{15500pt}
\setlength{\paperwidth}{%(paper).2fpt}
\setlength{\oddsidemargin}{0pt}
\setlength{\topmargin}{0pt}
\setlength{\headheight}{0pt}
\setlength{\headsep}{0pt}
\begin{document}
"""
_PAGE = "\\begin{minipage}[t]{%(width).2fpt}\n%(body)s\n\\end{minipage}\n\\clearpage\n"


#: Variables of the caller's environment TeX may see (where its own tree is); nothing else is passed on —
#: no credentials, no HOME, no PATH beyond the binaries' own folder.
TEX_ENV_KEEP = ("TEXMFCNF", "TEXMFDIST", "TEXMFLOCAL", "TEXMFSYSVAR", "TEXMFSYSCONFIG", "TEXMFROOT", "SOURCE_DATE_EPOCH")


def sandbox_env(workdir: str | Path) -> dict[str, str]:
    """A minimal environment for TeX: the TeX tree's own variables (:data:`TEX_ENV_KEEP`), the folders of the
    resolved binaries as ``PATH`` (kpathsea finds texmf.cnf from there; dvipng may call kpsewhich),
    ``HOME`` and the var/config trees inside ``workdir``, paranoid kpathsea file access, no shell escape,
    output only into ``workdir``."""
    bins = tex_binaries() or {}
    path_dirs = list(dict.fromkeys(str(Path(p).parent) for p in bins.values())) + ["/usr/bin", "/bin"]
    env = {k: os.environ[k] for k in TEX_ENV_KEEP if k in os.environ}
    work = str(workdir)
    env.update({"PATH": os.pathsep.join(dict.fromkeys(path_dirs)), "HOME": work, "TMPDIR": work,
                "LC_ALL": "C", "LANG": "C", "TEXMFVAR": work, "TEXMFCONFIG": work, "TEXMFHOME": work,
                "openin_any": "p", "openout_any": "p", "shell_escape": "f", "TEXMFOUTPUT": work,
                "TEXINPUTS": ".:", "max_print_line": "1000"})
    return env


class TeXOutputTooLarge(TeXRunError):
    """A page TeX produced is larger than the renderer's ``max_pixels`` (checked from the PNG header, before
    anything is decoded); the item falls back to the text renderer."""


class TeXBudgetExceeded(TeXRunError):
    """The renderer's total TeX time (``run_budget_s``) is spent: the item falls back to the text renderer."""


@dataclass(frozen=True)
class TeXLimits:
    """What one latex/dvipng process may use: address space (``memory_mb``), CPU seconds (``cpu_s``) and the
    size of any file it writes (``file_mb``); set with ``resource.setrlimit`` in the child before exec."""

    memory_mb: int = 2048
    cpu_s: float = 21.0
    file_mb: int = 512

    def apply(self) -> None:  # runs in the child (preexec_fn): only async-signal-safe-ish calls
        import resource

        mem = int(self.memory_mb) << 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = max(1, math.ceil(self.cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = int(self.file_mb) << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def _run(cmd: list[str], cwd: Path, timeout_s: float, limits: TeXLimits | None = None) -> subprocess.CompletedProcess:
    """Runs ``cmd`` in its own process group under ``limits`` (default: CPU = the time limit); on timeout the
    whole group is killed."""
    limits = limits or TeXLimits(cpu_s=timeout_s + 1)
    proc = subprocess.Popen(cmd, cwd=cwd, env=sandbox_env(cwd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=limits.apply)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - already gone
            pass
        proc.communicate()
        raise TeXRunError(f"{Path(cmd[0]).name} exceeded the time limit of {timeout_s:g} s and was killed") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out.decode("utf-8", "replace"), "")


#: An error line of TeX's log: ``! Undefined control sequence.`` or, under ``-file-line-error``,
#: ``./job.tex:12: Undefined control sequence.``
_ERROR_LINE = re.compile(r"^(?:!\s|[^\s:]+\.tex:\d+:\s)")


def _first_error(log_path: Path, returncode: int | None = None) -> str:
    try:
        for line in log_path.read_text("utf-8", "replace").splitlines():
            if _ERROR_LINE.match(line):
                return line[:200]
    except OSError:
        pass
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else -returncode
        return f"latex was killed by {name} (a memory, CPU or file-size limit)"
    return f"latex failed (exit status {returncode}) without an error line in its log"


def png_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk, without decoding it."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise TeXRunError(f"dvipng wrote something that is not a PNG ({Path(path).name})")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def run_latex(document: str, dpi: float, timeout_s: float = 20.0, max_pixels: int | None = None,
              limits: TeXLimits | None = None) -> list[Image.Image | Exception]:
    """Typesets a complete LaTeX ``document`` in a fresh empty temp dir; returns one greyscale image
    (black on white, cropped tight) per page — or, for a page larger than ``max_pixels`` (read from the PNG
    header before decoding; Pillow's decompression-bomb guard as a second line), :class:`TeXOutputTooLarge`.
    latex and dvipng each run under ``timeout_s`` and ``limits`` (memory, CPU, file size). No sanitising here:
    callers pass :func:`to_latex` output."""
    with tempfile.TemporaryDirectory(prefix="lomo-tex-") as tmp:
        work = Path(tmp)
        (work / "job.tex").write_text(document, encoding="utf-8")
        bins = tex_binaries()
        if bins is None:
            raise TeXRunError("latex/dvipng are not on PATH")
        r = _run([bins["latex"], "-no-shell-escape", "-interaction=batchmode", "-halt-on-error", "-file-line-error",
                  "-output-directory=.", "job.tex"], work, timeout_s, limits)
        if r.returncode != 0 or not (work / "job.dvi").exists():
            raise TeXRunError(_first_error(work / "job.log", r.returncode))
        r = _run([bins["dvipng"], "-q", "--nogs", "-T", "tight", "-D", f"{dpi:.2f}", "-bg", "rgb 1 1 1",
                  "-fg", "rgb 0 0 0", "-z", "1", "-o", "p%06d.png", "job.dvi"], work, timeout_s, limits)
        pages = sorted(work.glob("p*.png"))
        if r.returncode != 0 or not pages:
            why = f"killed by signal {-r.returncode} (a memory, CPU or file-size limit)" if r.returncode < 0 else \
                r.stdout.strip()[-200:]
            raise TeXRunError(f"dvipng failed: {why}")
        images: list[Image.Image | Exception] = []
        for p in pages:
            try:
                w, h = png_size(p)
                if max_pixels is not None and w * h > max_pixels:
                    raise TeXOutputTooLarge(f"page of {w}x{h} = {w * h} pixels > max_pixels={max_pixels}")
                with Image.open(p) as im:
                    images.append(im.convert("L"))
            except Image.DecompressionBombError as e:
                images.append(TeXOutputTooLarge(f"Pillow refused the page as a decompression bomb: {e}"))
            except TeXRunError as e:
                images.append(e)
        return images


@functools.lru_cache(maxsize=1)
def tex_problem() -> str | None:
    """None when a one-formula document typesets here, else why not (checked once per process, ~0.3 s).
    Catches a TeX that is on PATH but broken (e.g. amsmath missing), which would otherwise fail every batch
    and then every item one by one."""
    if not tex_available():
        return "latex/dvipng are not on PATH"
    probe = TexRenderer(font_px=20, width_px=200, batch_size=1, timeout_s=60)
    result = probe.render([to_latex(r"probe $x^2 + \frac{1}{2}$")])[0]
    return None if isinstance(result, Image.Image) else f"{type(result).__name__}: {result}"


@dataclass
class TexRenderer:
    """Renders safe LaTeX bodies (from :func:`to_latex`) as coverage masks (``L``, 255 = ink).

    ``font_px``: pixel size of the 10 pt body font; ``width_px``: paragraph width; ``batch_size``: items per
    TeX run; ``timeout_s``: the time budget of one batch run; when a batch fails or runs out of it, its items
    are retried one by one with ``item_timeout_s`` each. ``memory_mb``: address-space limit of each
    latex/dvipng process; ``max_pixels``: largest page accepted (checked before decoding);
    ``run_budget_s``: total TeX time of this renderer, after which every further item falls back
    (:class:`TeXBudgetExceeded`). :attr:`stats` counts the seconds spent and each kind of failure.
    """

    font_px: float = 28.0
    width_px: float = 784.0
    batch_size: int = 256
    timeout_s: float = 20.0
    item_timeout_s: float = 2.0
    memory_mb: int = 2048
    max_pixels: int = 50_000_000
    run_budget_s: float = 1800.0

    def __post_init__(self) -> None:
        self.stats: dict[str, float] = {"seconds": 0.0, "runs": 0, "batches_split": 0, "too_large": 0,
                                        "budget_exceeded": 0}

    @property
    def dpi(self) -> float:
        return self.font_px / 10.0 * 72.27

    def _document(self, bodies: list[str]) -> str:
        width_pt = max(self.width_px, 20) * 72.27 / self.dpi
        head = _PREAMBLE % {"width": width_pt, "paper": width_pt + 20}
        return head + "".join(_PAGE % {"width": width_pt, "body": b} for b in bodies) + "\\end{document}\n"

    def render(self, bodies: list[str]) -> list[Image.Image | Exception]:
        """One mask or the exception that stopped it, per body, in order."""
        out: list[Image.Image | Exception] = []
        for k in range(0, len(bodies), max(1, self.batch_size)):
            out.extend(self._render_batch(bodies[k:k + max(1, self.batch_size)]))
        return out

    def _left(self) -> float:
        return self.run_budget_s - self.stats["seconds"]

    def _run(self, bodies: list[str], timeout_s: float) -> list[Image.Image | Exception]:
        """One latex + dvipng run under the smaller of ``timeout_s`` and what is left of the run budget."""
        left = self._left()
        if left <= 0:
            raise TeXBudgetExceeded(f"the TeX time of this run (run_budget_s={self.run_budget_s:g}) is spent")
        limit = min(timeout_s, left)
        t0 = time.monotonic()
        try:
            return run_latex(self._document(bodies), self.dpi, limit, self.max_pixels,
                             TeXLimits(memory_mb=self.memory_mb, cpu_s=limit + 1))
        finally:
            self.stats["seconds"] += time.monotonic() - t0
            self.stats["runs"] += 1

    def _render_batch(self, bodies: list[str]) -> list[Image.Image | Exception]:
        if not bodies:
            return []
        single = len(bodies) == 1
        try:
            pages = self._run(bodies, self.timeout_s)
            if len(pages) == len(bodies):
                out = [ImageOps.invert(p) if isinstance(p, Image.Image) else p for p in pages]
                self.stats["too_large"] += sum(isinstance(p, TeXOutputTooLarge) for p in out)
                return out
            err: Exception = TeXRunError(f"{len(pages)} pages for {len(bodies)} items")
        except TeXBudgetExceeded as e:
            self.stats["budget_exceeded"] += len(bodies)
            return [e] * len(bodies)
        except TeXRunError as e:
            err = e
        if single:
            return [err]
        self.stats["batches_split"] += 1
        return [r for b in bodies for r in self._render_item(b)]  # item by item, each with the short limit

    def _render_item(self, body: str) -> list[Image.Image | Exception]:
        try:
            pages = self._run([body], self.item_timeout_s)
        except TeXBudgetExceeded as e:
            self.stats["budget_exceeded"] += 1
            return [e]
        except TeXRunError as e:
            return [e]
        if len(pages) != 1:
            return [TeXRunError(f"{len(pages)} pages for 1 item")]
        p = pages[0]
        if isinstance(p, TeXOutputTooLarge):
            self.stats["too_large"] += 1
        return [ImageOps.invert(p) if isinstance(p, Image.Image) else p]
