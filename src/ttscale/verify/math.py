"""Math answers: extraction, a canonical key for voting, and equivalence with math-verify.

Extraction order (the first that matches wins): the last \\boxed{...}; GSM8K's "#### X" (it marks the
final answer, so it beats an earlier "answer is"); the last "answer is X" / "answer: X"; the last number or LaTeX
fraction in the text. After "answer is"/"####" a worked "10 - 4 = 6" gives what follows the last "=", an expression
or tuple such as "(3, 4)" is kept whole, and prose ("42 apples") gives its first number.

The canonical key is what majority voting groups by: numbers become exact rationals (so 1/2, 0.5 and
\\frac{1}{2} share the key "1/2"), other expressions their sympy form, and what does not parse its
whitespace-normalized text. Answers are parsed as LaTeX math ($...$), because math_verify reads bare text as its
last number ("(1, 2)" would be 2, "1{,}000" would be 1); prose without LaTeX ("5 dollars") stays bare.
Correctness is math_verify.verify(reference, answer). Both run once per distinct string: with
thousands of samples per problem, most answers repeat.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*(.+)", re.I)
_HASHES = re.compile(r"####\s*(.+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# a word of prose (two letters or more, not a LaTeX command): "dollars" in "5 dollars"
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_DOLLAR = re.compile(r"(?<!\\)\$")  # an unescaped $: the answer brings its own math delimiters
# the last number, or the last LaTeX fraction (so "\frac{55}{2}" is not read as its last digit)
_LAST = re.compile(r"-?\\d?frac\{[^{}]+\}\{[^{}]+\}|-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None  # unbalanced: the sample was cut off inside the box


def _clean(ans: str) -> str:
    ans = ans.strip().rstrip(".").strip().strip("$").strip()
    ans = re.sub(r"^\\\(|\\\)$", "", ans).strip()
    return ans.rstrip(".").strip()


def _stated(line: str) -> str | None:
    """The answer on an "answer is"/"####" line: after the last "=", an expression whole, prose its first number."""
    line = line.rsplit("=", 1)[-1]  # "The answer is 10 - 4 = 6." -> 6, not 10
    cand = _clean(line).strip("*").strip()  # also markdown bold: "**42**"
    if not cand:
        return None
    if _NUMBER.fullmatch(cand):
        return cand.replace(",", "")
    # "(3, 4)", "2x+1", "\frac{1}{2}" whole; "42 apples" (a word, no LaTeX) by its first number
    if ("\\" in cand or not _PROSE.search(cand)) and parsed(cand):
        return cand
    nums = _NUMBER.findall(cand)
    return nums[0].replace(",", "") if nums else cand


def extract_answer(text: str | None) -> str | None:
    """The final answer a response states, or None if it states none."""
    if not text or not text.strip():
        return None
    boxed = _last_boxed(text)
    if boxed:
        return _clean(boxed)
    for pattern in (_HASHES, _ANSWER_IS):
        hits = pattern.findall(text)
        if hits:
            line = hits[-1].strip().splitlines()[0] if hits[-1].strip() else ""
            cand = _stated(line)
            if cand:
                return cand
    hits = _LAST.findall(text)
    if not hits:
        return None
    last = hits[-1]
    return last if "frac" in last else last.replace(",", "")


@lru_cache(maxsize=200_000)
def parsed(ans: str) -> tuple:
    """math_verify.parse of an answer string (cached; it is the slow step)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    # bare text would be read as its last number ("(1, 2)" -> 2); prose without LaTeX ("5 dollars") is left bare
    # so it still reads as 5 rather than a product of letters. An escaped \\$ ("\\$18") is a currency sign.
    bare = _DOLLAR.search(ans) or ("\\" not in ans and _PROSE.search(ans))
    text = ans if bare else f"${ans}$"
    try:
        return tuple(parse(text, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()]))
    except Exception:
        return ()


@lru_cache(maxsize=200_000)
def canonical_key(ans: str | None) -> str | None:
    """The key majority voting groups by (see module docstring)."""
    if ans is None:
        return None
    p = parsed(ans)
    if p:
        import sympy

        expr = p[0]
        try:
            if isinstance(expr, sympy.Basic) and expr.is_number:
                return str(sympy.nsimplify(expr, rational=True))
            if isinstance(expr, sympy.Basic):
                return str(expr)
        except Exception:
            pass
    return re.sub(r"\s+", "", ans)


@lru_cache(maxsize=200_000)
def equivalent(reference: str, ans: str | None) -> bool:
    """math-verify's equivalence of an answer with the reference answer."""
    if ans is None:
        return False
    from math_verify import verify

    gold, pred = parsed(reference), parsed(ans)
    if not gold or not pred:
        return _clean(reference) == _clean(ans)
    try:
        return bool(verify(list(gold), list(pred)))
    except Exception:
        return False
