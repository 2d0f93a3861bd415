"""Decide whether a train request goes through AutoML: explicit value > the user's words > default on.

The words are read clause by clause. An AutoML term ("automl", "hpo", "hyperparameter search/tuning/optimisation",
"sweep", a search algorithm's name) mentioned plainly turns AutoML on; a negation that governs it ("don't", "do not",
"no", "no need", "without", "skip", "avoid", "never", "turn off", "disable", ... before it, or "is not needed",
"unnecessary", "off" after it) turns it off, and two negations cancel ("don't skip AutoML"). A negation governs a
term in the same clause when few words separate them and none of those words starts a new request ("no manual
tuning and let AutoML do it": the negation is about manual tuning). Phrases without a term ("plain training",
"train directly", "fixed hyperparameters", "I'll tune it by hand") count only when no term decides. Words that
disagree, or a hedge ("maybe", "not sure", "should we"), keep the default and the reason says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tao_skill.errors import UserError
from tao_skill.models import AutomlDecision

__all__ = ["decide_automl", "parse_policy", "read_words", "WordsVerdict"]

_ON = {"on", "true", "yes", "1", "enable", "enabled"}
_OFF = {"off", "false", "no", "0", "disable", "disabled"}
#: "auto" (or an empty value) leaves the decision to the user's words, then the default.
_AUTO = {"auto", "default", ""}

#: At most this many words between a negation and the AutoML term it governs.
_WINDOW = 6

_HP = r"hyperparam(?:eter)?s?"
_TERMS = re.compile(
    r"\bautoml\b|\bhpo\b|\bautotun(?:e|ing)\b|\bbohb\b|\bhyperband\b|\basha\b|\boptuna\b"
    r"|\bbayesian\s+optimi[sz]ation\b|\b(?:grid|random)\s+search\b"
    rf"|\b{_HP}(?:\s+(?:search|searches|searching|tuning|tune|optimi[sz]ation|optimi[sz]ing|sweeps?|study|studies))"
    rf"|\b(?:tun(?:e|ed|ing)|search(?:ing)?|sweep(?:ing)?|optimi[sz](?:e|ed|ing))\s+(?:(?:over|the|my|our|its|of|for|"
    rf"all|some|a few|model|model's)\s+)*(?:{_HP}|hparams?|learning\s+rates?)\b"
    rf"|\b(?:find|pick|choose|select)(?:ing)?\s+(?:the\s+)?(?:best|optimal|good)\s+{_HP}\b"
    r"|\bsweeps?\b"
)
#: Phrases without an AutoML term; their polarity is "off" (they describe training without a search).
_IDIOMS = re.compile(
    r"\b(?:plain|direct|simple|regular|normal|single|vanilla|basic|straight|one-?off|one)\s+"
    r"(?:training|train|run|fit|fine-?tun\w*|job)\b"
    r"|\btrain(?:ing)?\s+(?:it\s+|the\s+model\s+|once\s+)?(?:directly|plainly|once|as\s+is)\b"
    rf"|\b(?:fixed|default|given|my\s+own|these|those|current)\s+{_HP}\b"
    r"|\b(?:manual(?:ly)?|hand)\s+tun\w*|\btun(?:e|ing)\s+(?:it\s+|them\s+)?(?:manually|by\s+hand)\b"
    r"|\b(?:tuning|tune)\b"
)
_NEGATIONS = re.compile(
    r"\b(?:do|does|did|would|should|could|will|wo|ca|must|need|is|are|was|were|has|have)(?:n't|nt|\s+not)\b"
    r"|\bcannot\b|\bnot\b|\bno\b(?!\s+(?:more|less|later|longer|fewer|matter|doubt|sooner)\b)|\bnever\b"
    r"|\bwithout\b|\bneither\b|\bnone\b|\bskip(?:s|ped|ping)?\b|\bavoid(?:s|ed|ing)?\b"
    r"|\bdisabl(?:e|es|ed|ing)\b|\b(?:turn|switch|shut)(?:s|ed|ing)?\s+off\b|\bstop(?:s|ped|ping)?\b"
    r"|\bforget(?:\s+about)?\b|\binstead\s+of\b|\brather\s+than\b|\bexclud(?:e|es|ed|ing)\b|\bdrop\b"
)
_NEEDED = (
    r"(?:really\s+)?(?:needed|necessary|required|wanted|desired|useful|helpful|an\s+option|worth\s+it"
    r"|(?:something|what)\s+(?:i|we)\s+(?:want|need))"
)
#: After a term: "AutoML is not needed", "HPO: off", "hyperparameter search? no thanks", "AutoML is overkill".
_POST_NEGATION = re.compile(
    r"(?:\s+(?:policy|mode|route|study|studies|run|runs|job|jobs))?"
    r"(?:"
    r"\s+(?:(?:is|are|was|would\s+be|will\s+be|should\s+be)\s+not|isn't|isnt|aren't|wasn't|won't\s+be|wouldn't\s+be"
    rf"|shouldn't\s+be|not)\s+{_NEEDED}"
    r"|\s+(?:(?:is|are|was|seems|sounds|would\s+be|will\s+be)\s+)?(?:off|disabled|unnecessary|overkill|pointless"
    r"|needless|not\s+needed|out\s+of\s+the\s+question|too\s+(?:slow|expensive|costly|long))\b"
    r"|\s+(?:would|will)\s+take\s+too\s+long\b"
    r")"
)
_ANSWERED = re.compile(
    r"\b(automl|hpo|search|tuning|sweeps?|optimi[sz]ation|study)(?:\s+(?:policy|mode|route))?\s*[:=?!\-]+\s*(?:off|false|disabled|no|nope|none)\b"
    r"(?=\s*(?:thanks|thank\s+you)?\s*(?:[.,;!?]|$))"
)
_HEDGES = re.compile(
    r"\b(?:maybe|perhaps|possibly|unsure|undecided|whether|wonder(?:ing)?|might|not\s+sure"
    r"|(?:don't|dont|do\s+not)\s+know|should\s+(?:i|we)|do\s+(?:i|we)\s+need|is\s+it\s+worth"
    r"|if\s+(?:needed|necessary|useful|possible|it\s+helps|you\s+think))\b"
)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that end a negation's reach: a new sentence part starts.
_BREAKERS = _wordset(
    "but so yet though although however because since then instead rather while whereas until unless once after "
    "before when if"
)
#: Verbs that start a request; after a content word (not right after the negation) they start a new one.
_REQUEST_VERBS = _wordset(
    "use using run running try trying enable enabling launch launching start starting do doing go let apply want "
    "need prefer kick give pick"
)
#: Words that may sit between a negation and what it governs without changing the subject.
_FILLERS = _wordset(
    "i we you me us it this that these those they to the a an any some my our your please really even just want "
    "wanna need needs like would will going gonna be bother bothering waste wasting time spend spending burn "
    "burning gpu gpus hours compute on for with about of and or nor run running use using try trying do doing "
    "enable launch start go let kick off apply have has study studies search job round another extra other "
    "here now today this time"
)
_CLAUSE = re.compile(r"[,;:.!?()\[\]\n]+|\s+-\s+")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class _Mention:
    text: str
    polarity: bool  # after negations
    strong: bool  # an AutoML term (True) or an idiom (False)
    hedged: bool


@dataclass(frozen=True)
class WordsVerdict:
    """What the user's words say: ``on``/``off``, ``unclear`` (hedged or contradicting words) or ``silent``."""

    verdict: Literal["on", "off", "unclear", "silent"]
    reason: str


def _normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("_", " ")
    text = re.sub(r"\bauto[\s-]?ml\b", "automl", text)
    text = re.sub(r"\bhyper[\s-]parameter", "hyperparameter", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    return " ".join(text.split())


def _governs(clause: str, cue_end: int, start: int, covered: list[tuple[int, int]]) -> bool:
    """Whether a negation ending at ``cue_end`` reaches a mention starting at ``start``."""
    words = []
    for match in _WORD.finditer(clause, cue_end, start):
        inside = any(a <= match.start() < b for a, b in covered)
        words.append((match.group(0), inside))
    if len(words) > _WINDOW:
        return False
    content_seen = False
    for word, inside in words:
        if word in _BREAKERS:
            return False
        if word in _REQUEST_VERBS and content_seen:
            return False
        if not inside and word not in _FILLERS:
            content_seen = True
    return True


def _spans(pattern: re.Pattern[str], text: str, taken: list[tuple[int, int]]) -> list[re.Match[str]]:
    return [m for m in pattern.finditer(text) if not any(a < m.end() and m.start() < b for a, b in taken)]


def _clause_mentions(clause: str) -> list[_Mention]:
    terms = list(_TERMS.finditer(clause))
    idioms = _spans(_IDIOMS, clause, [(m.start(), m.end()) for m in terms])
    cues = _spans(_NEGATIONS, clause, [(m.start(), m.end()) for m in terms + idioms])
    covered = [(m.start(), m.end()) for m in terms + cues]  # an idiom is a subject of its own
    hedged = bool(_HEDGES.search(clause))
    mentions = []
    for match, strong in [(m, True) for m in terms] + [(m, False) for m in idioms]:
        governing = [c for c in cues if c.end() <= match.start() and _governs(clause, c.end(), match.start(), covered)]
        count, end = len(governing), match.end()
        post = _POST_NEGATION.match(clause, match.end()) if strong else None
        if post:
            count, end = count + 1, post.end()
        base = strong  # a term asks for AutoML; an idiom describes training without it
        if not strong and re.fullmatch(r"tun(?:e|ing)", match.group(0)):
            base = True  # bare "tuning": weak, only counts when nothing else speaks
        quote = _quote(clause, governing[0].start() if governing else match.start(), end)
        mentions.append(_Mention(quote, base if count % 2 == 0 else not base, strong, hedged))
    return mentions


def _quote(clause: str, start: int, end: int, lead: int = 4) -> str:
    """The words that decided, with up to ``lead`` words before them back to the last breaker."""
    before = _WORD.findall(clause[:start])[-lead:]
    while before and any(word in _BREAKERS for word in before):
        before.pop(0)
    return " ".join([*before, clause[start:end].strip()])


def read_words(text: str | None) -> WordsVerdict:
    """What the user's words say about AutoML, with the phrase that decided it."""
    if not text or not text.strip():
        return WordsVerdict("silent", "no request text")
    normalised = _normalise(text)
    # "HPO: off", "AutoML? No thanks." cross a clause mark: join the answer to its term before splitting clauses.
    joined = _ANSWERED.sub(r"\1 is off", normalised)
    mentions = [m for clause in _CLAUSE.split(joined) if clause.strip() for m in _clause_mentions(clause)]
    for strong in (True, False):
        found = [m for m in mentions if m.strong is strong]
        if not found:
            continue
        if any(m.hedged for m in found):
            hedged = next(m for m in found if m.hedged)
            return WordsVerdict("unclear", f"the request is unsure about AutoML ('{hedged.text}')")
        polarities = {m.polarity for m in found}
        if len(polarities) == 2:
            on = next(m for m in found if m.polarity)
            off = next(m for m in found if not m.polarity)
            return WordsVerdict("unclear", f"the request says both '{on.text}' (on) and '{off.text}' (off)")
        return WordsVerdict("on" if found[0].polarity else "off", f"the request says '{found[0].text}'")
    return WordsVerdict("silent", "the request does not mention AutoML")


def parse_policy(value: str | bool | None) -> bool | None:
    """``on``/``off``/``true``/``false`` (or a bool) -> True/False; ``auto``, empty or None -> None (decide)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    if text in _AUTO:
        return None
    raise UserError.single(
        "automl_policy",
        f"automl_policy '{value}' is not one of on, off, auto",
        rule="enum",
        value=value,
        hint="use --automl-policy on, off or auto (auto: the request's words, then the default)",
    )


def decide_automl(
    policy: str | bool | None,
    request_text: str | None,
    *,
    action: str,
    automl_enabled: bool,
    train_packaged: bool,
) -> AutomlDecision:
    """Whether AutoML is on for this request, where that came from, and whether it can run.

    ``train_packaged``: the skill ships the train schema and template that AutoML needs.
    """
    explicit = parse_policy(policy)
    if explicit is not None:
        enabled, source, reason = explicit, "explicit", f"automl_policy={'on' if explicit else 'off'}"
    else:
        words = read_words(request_text)
        if words.verdict in ("on", "off"):
            enabled, source, reason = words.verdict == "on", "request_text", words.reason
        elif words.verdict == "unclear":
            enabled, source = True, "default"
            reason = f"{words.reason}: keeping the default (on); pass --automl-policy on or off to decide"
        else:
            enabled, source, reason = True, "default", "AutoML is on by default for training"
    if not enabled:
        return AutomlDecision(enabled=False, reason=reason + "; training directly", source=source, runnable=False)
    if action != "train":
        return AutomlDecision(
            enabled=True, reason=reason + f"; AutoML applies to train only, '{action}' runs directly", source=source
        )
    if not automl_enabled:
        return AutomlDecision(
            enabled=True, reason=reason + "; this model does not support AutoML, training directly", source=source
        )
    if not train_packaged:
        return AutomlDecision(
            enabled=True,
            reason=reason + "; AutoML is enabled but not runnable for this model until schemas are generated",
            source=source,
            runnable=False,
        )
    return AutomlDecision(enabled=True, reason=reason, source=source, runnable=True)
