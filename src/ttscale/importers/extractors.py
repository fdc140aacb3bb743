"""Named answer extractors: the rule a source used to decide correctness, reused as the vote key.

When correctness comes from the source, majority vote must group samples by the same answer the
source compared with the reference; grouping by ttscale's own extraction instead lets one vote
group hold right and wrong samples (its vote then counts a fraction of a solve). Each extractor
returns the answer string the source's rule compares, or None when the rule finds no answer.

- `llmonk-gsm8k`: Large Language Monkeys' GSM8K rule: the first `#### <number>` (digits, `-`,
  `$`, `.`, `,`), with commas, dollar signs and a trailing period removed.
- `llmonk-math`: their MATH rule (Minerva's, as in lm-evaluation-harness's `minerva_math`): the
  text after `Final Answer: The final answer is` up to `. I hope it is correct.`, normalized as
  in Lewkowycz et al. 2022, appendix D (substitutions, removed units, unwrapped `\\text{}`,
  `\\boxed{}`, ..., shorthand `\\frac12`); the reference is the last `\\boxed{}` of the solution,
  normalized the same way.
- `ttscale`: ttscale's own math extraction (`ttscale.verify.math.extract_answer`), for sources
  whose labels came from ttscale-compatible rules.

Written from the papers' and projects' published descriptions; no code is copied.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ttscale.registry import Registry

Extractor = Callable[[str], str | None]
EXTRACTORS: Registry[Extractor] = Registry("answer extractor")

_GSM8K = re.compile(r"#### (\-?[\$0-9\.\,]+)")


@EXTRACTORS.register("llmonk-gsm8k")
def gsm8k_answer(text: str) -> str | None:
    m = _GSM8K.search(text)
    if m is None:
        return None
    ans = m.group(1).strip().replace(",", "").replace("$", "")
    return ans[:-1] if ans.endswith(".") else ans


# Minerva's normalization (Lewkowycz et al. 2022, appendix D.1): literal substitutions, then
# expressions (mostly units) removed wherever they occur.
_SUBSTITUTIONS = (("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), ("\\ ", ""), (" ", ""), ("mbox", "text"),
                  (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"))
_REMOVED = ("square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots",
            "sue", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters",
            "meals", "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
            "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;",
            ",\\!", "{,}", '"', "\\dots")
_UNWRAP = tuple(re.compile(p) for p in (r"(\\text\{)(.*?)(\})", r"(\\textbf\{)(.*?)(\})",
                                         r"(\\overline\{)(.*?)(\})", r"(\\boxed\{)(.*)(\})"))
_STATED = re.compile(r"Final Answer: The final answer is(.*?). I hope it is correct.")


def normalize_minerva(answer: str) -> str:
    """Minerva's final-answer normalization, so '\\$1,000' and '1000' compare equal."""
    out = answer.split("=")[-1]
    for old, new in _SUBSTITUTIONS:
        out = out.replace(old, new)
    for expr in _REMOVED:
        out = out.replace(expr, "")
    out = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", r"$\3$", out)  # keep the math between the first $...$
    for pattern in _UNWRAP:
        out = pattern.sub(r"\2", out)
    out = re.sub(r"(frac)([^{])(.)", r"frac{\2}{\3}", out)  # \frac12 -> \frac{1}{2}
    out = re.sub(r"(sqrt)([^{])", r"sqrt{\2}", out)  # \sqrt2 -> \sqrt{2}
    out = out.replace("$", "")
    if out.replace(",", "").isdigit():
        out = out.replace(",", "")
    return out


@EXTRACTORS.register("llmonk-math")
def minerva_answer(text: str) -> str | None:
    m = _STATED.search(text + "I hope it is correct.")
    return None if m is None else normalize_minerva(m.group(1).strip())


def minerva_reference(solution: str) -> str | None:
    """The reference answer of a MATH solution: its last \\boxed{} (or \\fbox{}), normalized."""
    from ttscale.verify.math import _last_boxed

    if "\\boxed " in solution:  # the brace-less form: up to the next $
        return normalize_minerva(solution.split("\\boxed ")[-1].split("$")[0])
    boxed = _last_boxed(solution if "\\boxed" in solution else solution.replace("\\fbox", "\\boxed"))
    return None if boxed is None else normalize_minerva(boxed)


@EXTRACTORS.register("ttscale")
def ttscale_answer(text: str) -> str | None:
    from ttscale.verify.math import extract_answer

    return extract_answer(text)
