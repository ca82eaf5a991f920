"""What a judge's answer must hold: the JSON object in it, a 0-10 score or an A / B / equal preference. Used by
the judge (to parse and retry) and the judgements (preference.py), so it depends on neither."""
from __future__ import annotations

import json


class ParseError(ValueError):
    pass


def extract_json_object(text: str | None) -> dict:
    """json.loads first; else the first balanced {...} block that parses (prose or code fences around it)."""
    text = (text or "").strip()
    try:
        obj = json.loads(text)
        if isinstance(obj, dict):
            return obj
    except ValueError:
        pass
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                esc, in_str = (False, True) if esc else (c == "\\", c != '"')
            elif c == '"':
                in_str = True
            elif c in "{}":
                depth += 1 if c == "{" else -1
                if depth == 0:
                    try:
                        obj = json.loads(text[start:i + 1])
                        if isinstance(obj, dict):
                            return obj
                    except ValueError:
                        pass
                    break
        start = text.find("{", start + 1)
    raise ParseError("no JSON object in the answer")


def parse_score(text: str | None) -> dict:
    """{"score": int 0..10, "reason": str}. "7" and 7.0 pass; 7.5, 11, "seven" and booleans do not (the authors'
    int() would have floored 7.5 and then dropped it from the histogram)."""
    obj = extract_json_object(text)
    v = obj.get("score")
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            raise ParseError(f"score {obj.get('score')!r} is not a number") from None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10:
        raise ParseError(f"score {obj.get('score')!r} is not an integer in 0..10")
    return {"score": v, "reason": str(obj.get("reason", ""))}


def parse_preference(text: str | None) -> dict:
    """{"better_set": "A" | "B" | "equal", "reason": str}; case, quotes and a "Set " prefix are forgiven."""
    obj = extract_json_object(text)
    v = str(obj.get("better_set", "")).strip().strip("\"'“”‘’ ").lower().removeprefix("set ").strip()
    if v not in ("a", "b", "equal"):
        raise ParseError(f"better_set {obj.get('better_set')!r} is not A, B or equal")
    return {"better_set": v.upper() if v != "equal" else "equal", "reason": str(obj.get("reason", ""))}


PARSERS = {"score": parse_score, "preference": parse_preference}
