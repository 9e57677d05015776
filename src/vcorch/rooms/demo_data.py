"""Demo organisation: the 34 provincial-level units after the 2025 reorganisation.

Codes are readable slugs; the number is the unit's administrative code
(Decision 19/2025/QĐ-TTg list of provincial-level units).  Room systems have addresses on
the simulated network, one host per unit (``<code>.mo-phong.invalid``), except the silent
unit's, which nothing answers.
"""

from __future__ import annotations

CENTRAL_NAME = "Bộ Dân tộc và Tôn giáo — Ban Chỉ đạo Chương trình"

# (code, name, administrative number)
PROVINCES: tuple[tuple[str, str, int], ...] = (
    ("ha-noi", "Thành phố Hà Nội", 1),
    ("cao-bang", "Tỉnh Cao Bằng", 4),
    ("tuyen-quang", "Tỉnh Tuyên Quang", 8),
    ("dien-bien", "Tỉnh Điện Biên", 11),
    ("lai-chau", "Tỉnh Lai Châu", 12),
    ("son-la", "Tỉnh Sơn La", 14),
    ("lao-cai", "Tỉnh Lào Cai", 15),
    ("thai-nguyen", "Tỉnh Thái Nguyên", 19),
    ("lang-son", "Tỉnh Lạng Sơn", 20),
    ("quang-ninh", "Tỉnh Quảng Ninh", 22),
    ("bac-ninh", "Tỉnh Bắc Ninh", 24),
    ("phu-tho", "Tỉnh Phú Thọ", 25),
    ("hai-phong", "Thành phố Hải Phòng", 31),
    ("hung-yen", "Tỉnh Hưng Yên", 33),
    ("ninh-binh", "Tỉnh Ninh Bình", 37),
    ("thanh-hoa", "Tỉnh Thanh Hóa", 38),
    ("nghe-an", "Tỉnh Nghệ An", 40),
    ("ha-tinh", "Tỉnh Hà Tĩnh", 42),
    ("quang-tri", "Tỉnh Quảng Trị", 44),
    ("hue", "Thành phố Huế", 46),
    ("da-nang", "Thành phố Đà Nẵng", 48),
    ("quang-ngai", "Tỉnh Quảng Ngãi", 51),
    ("gia-lai", "Tỉnh Gia Lai", 52),
    ("khanh-hoa", "Tỉnh Khánh Hòa", 56),
    ("dak-lak", "Tỉnh Đắk Lắk", 66),
    ("lam-dong", "Tỉnh Lâm Đồng", 68),
    ("dong-nai", "Tỉnh Đồng Nai", 75),
    ("ho-chi-minh", "Thành phố Hồ Chí Minh", 79),
    ("tay-ninh", "Tỉnh Tây Ninh", 80),
    ("dong-thap", "Tỉnh Đồng Tháp", 82),
    ("vinh-long", "Tỉnh Vĩnh Long", 86),
    ("an-giang", "Tỉnh An Giang", 91),
    ("can-tho", "Thành phố Cần Thơ", 92),
    ("ca-mau", "Tỉnh Cà Mau", 96),
)

# Lower units: (code, name, level, parent code).  District-level units are kept as
# data for records made before the 2025 reform removed that level.
LOWER_UNITS: tuple[tuple[str, str, str, str], ...] = (
    ("lai-chau.muong-te", "Huyện Mường Tè (trước 7/2025)", "district", "lai-chau"),
    ("lai-chau.muong-te.thu-lum", "Xã Thu Lũm", "commune", "lai-chau.muong-te"),
    ("dien-bien.muong-nhe", "Xã Mường Nhé", "commune", "dien-bien"),
    ("lao-cai.bac-ha", "Xã Bắc Hà", "commune", "lao-cai"),
    ("lao-cai.sa-pa", "Phường Sa Pa", "commune", "lao-cai"),
    ("tuyen-quang.dong-van", "Xã Đồng Văn", "commune", "tuyen-quang"),
    ("tuyen-quang.meo-vac", "Xã Mèo Vạc", "commune", "tuyen-quang"),
    ("son-la.bac-yen", "Huyện Bắc Yên (trước 7/2025)", "district", "son-la"),
    ("son-la.bac-yen.ta-xua", "Xã Tà Xùa", "commune", "son-la.bac-yen"),
    ("gia-lai.kbang", "Xã Kbang", "commune", "gia-lai"),
    ("cao-bang.bao-lam", "Xã Bảo Lâm", "commune", "cao-bang"),
)

VENDORS: tuple[tuple[str, str], ...] = (
    ("Cisco", "Webex Room Kit"),
    ("Polycom", "RealPresence Group 500"),
    ("Huawei", "TE30"),
    ("Yealink", "VC800"),
)

# The simulated network's domain (vcorch.monitoring.probes.simulated.SIMULATED_DOMAIN): the
# simulated MCU calls these room systems and monitoring answers for them as it does.
SIMULATED_DOMAIN = "mo-phong.invalid"
# The demo's one room system that does not answer: its line is cut (nothing listens on
# the discard port of this machine), so its site of the demo meeting falls back.
SILENT_UNIT = "dien-bien.muong-nhe"
SILENT_ADDRESS = "sip:phonghop@127.0.0.1:9"
