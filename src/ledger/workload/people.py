"""People as the registration desks saw them: Vietnamese names (and how they were mistyped), screening vitals."""

from __future__ import annotations

import random
import unicodedata

#: Family names with their shares (per cent) of the population.
FAMILY_NAMES = [
    ("Nguyễn", 38.4), ("Trần", 12.1), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.1), ("Phan", 4.5), ("Vũ", 3.9),
    ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5),
    ("Đào", 0.8), ("Đinh", 0.7), ("Trịnh", 0.6), ("Lương", 0.5), ("Mai", 0.4), ("Tạ", 0.3),
]
MIDDLE = {
    "male": ["Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thành", "Xuân", "Mạnh", "Tuấn"],
    "female": ["Thị", "Thị", "Thị", "Thu", "Ngọc", "Thanh", "Phương", "Hồng", "Minh", "Thùy", "Bích", "Kim"],
}
GIVEN = {
    "male": ["Anh", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khánh", "Long",
             "Minh", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Tùng", "Thành", "Đức",
             "Kiên", "Lâm", "Nghĩa", "Quang", "Tài", "Vinh"],
    "female": ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai",
               "Ngọc", "Nhung", "Phương", "Quỳnh", "Thảo", "Trang", "Vân", "Yến", "Huyền", "Loan", "Nga",
               "Oanh", "Tâm", "Thủy", "Trâm", "Uyên", "Xuân", "My"],
}


def full_name(rng: random.Random, sex: str) -> str:
    """Family name, one or two middle names, given name: "Nguyễn Thị Thu Hà"."""
    family = rng.choices([f for f, _ in FAMILY_NAMES], [w for _, w in FAMILY_NAMES])[0]
    middle = rng.choice(MIDDLE[sex])
    if rng.random() < 0.2:
        second = rng.choice(MIDDLE[sex])
        if second != middle:
            middle = f"{middle} {second}"
    return f"{family} {middle} {rng.choice(GIVEN[sex])}"


def strip_diacritics(text: str) -> str:
    """The name as typed on a keyboard without Vietnamese input: "Nguyen Thi Thu Ha" (a `wrong_name`)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


#: The pre-vaccination questions of Decision 3802/QĐ-BYT, all answered "no".
CLEAR_ANSWERS = {"covid_within_6_months": False, "acute_illness": False, "pregnant_under_13_weeks": False,
                 "anaphylaxis_to_previous_dose": False}


def screening_vitals(rng: random.Random, old: bool) -> dict:
    """Vital signs at a screening desk: normal ranges, somewhat higher blood pressure for people 60+."""
    return {
        "temperature_c": round(rng.gauss(36.6, 0.3), 1),
        "pulse_per_min": int(rng.gauss(80, 9)),
        "systolic_mmhg": int(rng.gauss(126 if old else 117, 11)),
        "diastolic_mmhg": int(rng.gauss(76, 6)),
        "respiration_per_min": rng.randint(14, 22),
    }
