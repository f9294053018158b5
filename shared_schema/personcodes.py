"""National code tables for a person's sex and nation (民族), kept as data.

- Sex: GB/T 2261.1-2003 人的性别代码 (0 未知的性别, 1 男性, 2 女性, 9 未说明的性别);
  the ID card chip stores this code (1 or 2 on a resident ID card).
- Nation: GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码, the two-digit numeric codes
  01..56 in the standard's order, plus 97 其他 and 98 外国血统中国籍人士; the chip stores
  the two-digit code, the card face prints the name without 族 (e.g. 汉).

Sources: the GA/T 490 machine-readable text layout (sex "符合 GB/T 2261.1", nation
"符合 GB/T 3304") as reproduced at wiki.nfc.im (智能卡手册 / 二代居民身份证); the
sex table as listed at wener.me/notes/service/cn/gb/gbt-2261; the nation order agrees
with the tables shipped by several public code bases (checked by search, 2026).
"""

from __future__ import annotations

SEX_LABELS: dict[str, str] = {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}
SEX_LABELS_EN: dict[str, str] = {"0": "unknown", "1": "male", "2": "female", "9": "not stated"}

NATIONS: dict[str, str] = {
    "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族", "06": "苗族",
    "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族", "11": "满族", "12": "侗族",
    "13": "瑶族", "14": "白族", "15": "土家族", "16": "哈尼族", "17": "哈萨克族", "18": "傣族",
    "19": "黎族", "20": "傈僳族", "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族",
    "25": "水族", "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族", "30": "土族",
    "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族", "36": "毛南族",
    "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族", "41": "塔吉克族", "42": "怒族",
    "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族", "46": "德昂族", "47": "保安族",
    "48": "裕固族", "49": "京族", "50": "塔塔尔族", "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族",
    "54": "门巴族", "55": "珞巴族", "56": "基诺族",
    "97": "其他", "98": "外国血统中国籍人士",
}
assert len(NATIONS) == 58 and all(f"{i:02d}" in NATIONS for i in range(1, 57))


def nation_label(code: str) -> str | None:
    """``"01"`` → ``"汉族"``; ``None`` for a code not in the table."""
    return NATIONS.get(code)
