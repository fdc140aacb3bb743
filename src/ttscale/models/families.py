"""Known reward-model families: their input format and how a score is read out.

Adding a reward model is one entry here (or the same keys in the scorer's config): how to render
(question, response) or (question, steps) for the model, and which read-out turns the model's
output into a score. Scorer configs name a family with `family:` and may override any field.
`model_spec` says which model a scorer runs; both are pure lookups, so identities (ttscale.keys),
planning and the score stage share them.

Read-outs:
- `classify`: a sequence-classification head on the whole conversation (vLLM's pooling runner,
  `LLM.classify`; the transformers path uses AutoModelForSequenceClassification). `activation`
  false keeps the raw logit (reward models), true applies the head's sigmoid/softmax.
- `token_classify`: a token-classification head read at a step-separator token after every step
  (vLLM's STEP pooling; Qwen2.5-Math-PRM). `label` is the column of the positive class.
- `token_pair`: a causal LM's probability of a good vs a bad token at a tag after every step,
  normalized over the two (Math-Shepherd's "ки" with "+"/"-"; RLHFlow's assistant turns "+"/"-").
- `prefix`: score every prefix of the steps with an outcome read-out (any ORM as a PRM).
"""

from __future__ import annotations

from typing import Any

from ttscale.errors import ConfigError
from ttscale.registry import Registry

FAMILIES: Registry[dict[str, Any]] = Registry("reward-model family")


def family(name: str, **entry: Any) -> None:
    FAMILIES.register(name)(entry)


# --- outcome reward models ---------------------------------------------------------------------
family("skywork-reward", kind="outcome", hub="Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
       format="chat", readout="classify", activation=False,
       doc="LlamaForSequenceClassification; the chat template over [user: question, assistant: response]; "
           "the raw logit is the reward.")
family("armorm", kind="outcome", hub="RLHFlow/ArmoRM-Llama3-8B-v0.1", format="chat", readout="classify",
       activation=False, backend="transformers", trust_remote_code=True,
       doc="Custom multi-objective head (trust_remote_code); the preference score is the model output's "
           "`score`, which vLLM does not implement: runs on the transformers path.")
family("test-orm-smollm2", kind="outcome", build="smollm2_test_orm", format="chat", readout="classify",
       activation=True,
       doc="TEST ONLY, scores are meaningless: SmolLM2-135M-Instruct weights with a seeded, untrained "
           "1-label classification head, built offline so the outcome path runs for real.")

# --- process reward models ---------------------------------------------------------------------
family("math-shepherd", kind="process", hub="peiyi9979/math-shepherd-mistral-7b-prm", format="tagged",
       readout="token_pair", step_tag=" ки", good_token="+", bad_token="-", template="{question} {steps}",
       step_join="\n", doc="Each step is followed by the tag ' ки'; the score of a step is "
       "P('+') / (P('+') + P('-')) predicted at its tag.")
family("rlhflow-prm", kind="process", hub="RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", format="conversation",
       readout="token_pair", good_token="+", bad_token="-",
       doc="A conversation: the first user turn is question + first step, later user turns are the next "
           "steps, each answered by an assistant turn '+'; the score of a step is P('+') / (P('+') + P('-')) "
           "at its assistant turn.")
family("qwen2.5-math-prm", kind="process", hub="Qwen/Qwen2.5-Math-PRM-7B", format="separated",
       readout="token_classify", step_separator_token="<extra_0>", label=1,
       system="Please reason step by step, and put your final answer within \\boxed{}.",
       doc="Chat template with the system prompt above; steps joined and each followed by '<extra_0>'; "
           "the score of a step is the positive class's probability at its separator (vLLM's "
           "Qwen2ForProcessRewardModel with STEP pooling).")
family("skywork-prm", kind="process", hub="Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", format="separated",
       readout="token_classify", step_separator_token="\n", label=0, backend="transformers",
       trust_remote_code=True,
       doc="Steps separated by newlines; a value head read at each step end (sigmoid). Needs Skywork's "
           "modeling code (trust_remote_code) on the transformers path.")
family("test-prm-smollm2", kind="process", build="smollm2_test_prm", format="separated",
       readout="token_classify", step_separator_token="<file_sep>", label=1,
       doc="TEST ONLY, scores are meaningless: SmolLM2-135M-Instruct weights as a Qwen2ForProcessRewardModel "
           "(zero attention biases) with a seeded, untrained 2-label head, built offline so the PRM path of "
           "Qwen2.5-Math-PRM runs for real; '<file_sep>' is its step separator.")
family("test-shepherd-smollm2", kind="process", path="resources/models/smollm2-135m-instruct",
       build="smollm2_gguf", format="tagged", readout="token_pair", step_tag="\n\n", good_token="+",
       bad_token="-", template="{question} {steps}", step_join="",
       doc="TEST ONLY, scores are meaningless: the plain SmolLM2 causal LM read the Math-Shepherd way, so the "
           "token_pair path runs for real.")


def resolve(spec: dict[str, Any]) -> dict[str, Any]:
    """The scorer spec with its family's defaults filled in (the spec's own keys win)."""
    if not spec.get("family"):
        return dict(spec)
    base = dict(FAMILIES.get(spec["family"], "scorers.*.family"))
    base.pop("doc", None)
    return {**base, **{k: v for k, v in spec.items() if v is not None and v != {}}}


def model_spec(name: str, spec: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The model a scorer runs: a model of the config (`model:`) or its own `path` (+ `build`)."""
    if spec.get("model"):
        if spec["model"] not in config["models"]:
            raise ConfigError(f"scorers.{name}.model: {spec['model']!r} is not a model of the config; "
                              f"known: {', '.join(sorted(config['models']))}")
        base = dict(config["models"][spec["model"]])
    else:
        path = spec.get("path") or (f"resources/models/{spec['family']}" if spec.get("build") else spec.get("hub"))
        if not path:
            raise ConfigError(f"scorers.{name}: give `model` (a model of the config) or `path`")
        base = {"path": path, "build": spec.get("build"), "dtype": "auto"}
    for key in ("dtype", "max_model_len", "revision", "tokenizer"):
        if spec.get(key) is not None:
            base[key] = spec[key]
    return base
