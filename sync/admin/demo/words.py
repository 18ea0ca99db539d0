"""The words the demo's forms are written with: people's names, Thuận An's neighbourhoods and
streets, what volunteers type into notes, gifts and donors, the phones they carry.

The neighbourhoods (khu phố, and the hamlets, ấp, of An Sơn commune) and streets are in the
manner of Thuận An's (its small roads are named after the ward with a number, "Bình Chuẩn 62");
the house numbers, the people and the households are made up.
"""

from __future__ import annotations

# Family names, weighted roughly as in the South (Huỳnh and Võ where the North says Hoàng, Vũ).
FAMILY_NAMES = (
    ("Nguyễn", 36),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 6),
    ("Huỳnh", 5),
    ("Võ", 4),
    ("Phan", 4),
    ("Trương", 2),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
    ("Đinh", 1),
    ("Lâm", 1),
    ("Mai", 1),
    ("Châu", 1),
    ("Tạ", 1),
)
MIDDLE_MALE = ("Văn", "Minh", "Hoàng", "Quốc", "Thanh", "Đức", "Hữu", "Công", "Tấn", "Duy", "Gia")
MIDDLE_FEMALE = ("Thị", "Ngọc", "Thanh", "Thu", "Kim", "Mỹ", "Bảo", "Phương", "Hồng", "Thùy")
GIVEN_MALE = (
    "An", "Bình", "Cường", "Dũng", "Duy", "Hải", "Hiếu", "Hòa", "Hùng", "Huy", "Khang", "Khoa",
    "Khánh", "Kiệt", "Lâm", "Long", "Lộc", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong",
    "Phúc", "Quân", "Quang", "Sang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thiện", "Thịnh",
    "Tiến", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
)  # fmt: skip
GIVEN_FEMALE = (
    "Anh", "Châu", "Chi", "Diễm", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa",
    "Hương", "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh",
    "Phương", "Quyên", "Thảo", "Thư", "Thủy", "Trang", "Trâm", "Trinh", "Tuyết", "Uyên", "Vân",
    "Vy", "Yến",
)  # fmt: skip
# How the South calls its elders, by the order of birth: "bà Năm", "chú Ba".
BIRTH_ORDER = ("Hai", "Ba", "Tư", "Năm", "Sáu", "Bảy", "Tám", "Chín", "Mười", "Út")

# Where citizens were registered: the first three digits of the 12-digit personal id number.
# Thuận An is an industrial city: many of its people came from other provinces to work.
PROVINCE_CODES = (
    ("074", 46),  # Bình Dương
    ("079", 5),  # TP. Hồ Chí Minh
    ("038", 6),  # Thanh Hóa
    ("040", 5),  # Nghệ An
    ("042", 2),  # Hà Tĩnh
    ("051", 3),  # Quảng Ngãi
    ("052", 3),  # Bình Định
    ("066", 2),  # Đắk Lắk
    ("070", 2),  # Bình Phước
    ("072", 3),  # Tây Ninh
    ("080", 2),  # Long An
    ("083", 2),  # Bến Tre
    ("084", 3),  # Trà Vinh
    ("086", 2),  # Vĩnh Long
    ("087", 3),  # Đồng Tháp
    ("089", 3),  # An Giang
    ("091", 2),  # Kiên Giang
    ("094", 2),  # Sóc Trăng
    ("096", 2),  # Cà Mau
    ("036", 1),  # Nam Định
)

# Per ward: its neighbourhoods and main streets ("|" between names), and the name its numbered
# small roads carry. An Sơn is a commune: its neighbourhoods are hamlets (ấp), not khu phố.
PLACES: dict[str, dict[str, str]] = {
    "TA-LAITHIEU": {
        "areas": "Đông Nhì|Đông Tư|Đông Ba|Hòa Long|Long Thới|Phú Long|Nguyễn Trãi|Bình Hòa",
        "streets": (
            "Nguyễn Văn Tiết|Phan Đình Phùng|Đỗ Hữu Vị|"
            "Châu Văn Tiếp|Gia Long|Cách Mạng Tháng Tám|Đại lộ Bình Dương"
        ),
        "roads": "Lái Thiêu",
    },
    "TA-ANTHANH": {
        "areas": (
            "Thạnh Bình|Thạnh Hòa A|Thạnh Hòa B|Thạnh Lộc|Thạnh Quý|Hưng Thọ|Hưng Lộc|Thạnh Lợi"
        ),
        "streets": "Cách Mạng Tháng Tám|Nguyễn Chí Thanh|Đại lộ Bình Dương",
        "roads": "An Thạnh",
    },
    "TA-BINHHOA": {
        "areas": (
            "Bình Đức 1|Bình Đức 2|Bình Đức 3|Bình Đáng|Bình Phước A|"
            "Bình Phước B|Bình Thuận|Đồng An 1|Đồng An 2|Đồng An 3"
        ),
        "streets": "ĐT743|Đại lộ Bình Dương|Đường 22 Tháng 12",
        "roads": "Bình Hòa",
    },
    "TA-BINHCHUAN": {
        "areas": (
            "Bình Phú|Bình Quới A|Bình Quới B|Bình Phước A|"
            "Bình Phước B|Bình Khánh|Bình Thuận 1|Bình Thuận 2"
        ),
        "streets": "ĐT743|Thủ Khoa Huân|Đường 22 Tháng 12",
        "roads": "Bình Chuẩn",
    },
    "TA-THUANGIAO": {
        "areas": "Hòa Lân 1|Hòa Lân 2|Bình Thuận 2|Bình Giao|Thuận Hòa|Thuận Giao",
        "streets": "Thủ Khoa Huân|ĐT743|Đường 22 Tháng 12|Nguyễn Du",
        "roads": "Thuận Giao",
    },
    "TA-ANPHU": {
        "areas": "1A|1B|2|3|4|5",
        "streets": "ĐT743|Đường 22 Tháng 12|Nguyễn Du",
        "roads": "An Phú",
    },
    "TA-HUNGDINH": {
        "areas": "1|2|3|4|5|6|7",
        "streets": "Cách Mạng Tháng Tám|Nguyễn Du",
        "roads": "Hưng Định",
    },
    "TA-BINHNHAM": {
        "areas": "1|2|3|4|5|6",
        "streets": "Đại lộ Bình Dương|Nguyễn Văn Tiết",
        "roads": "Bình Nhâm",
    },
    "TA-VINHPHU": {
        "areas": "1|2|3|4|5",
        "streets": "Đại lộ Bình Dương|Vĩnh Phú 2",
        "roads": "Vĩnh Phú",
    },
    "TA-ANSON": {
        "areas": "An Hòa|An Phú|An Quới|An Thạnh",
        "streets": "Đường An Sơn|Đường ven sông Sài Gòn",
        "roads": "An Sơn",
    },
}

# What volunteers write in the note of an activation visit, by the result they chose. "{ord}"
# is an elder's birth-order name.
ACTIVATION_NOTES: dict[str, tuple[str, ...]] = {
    "visited": (
        "Không có nhà, hẹn quay lại",
        "Chủ hộ đi làm ca, hẹn tối quay lại",
        "Chưa mang căn cước, hẹn lên văn phòng khu phố",
        "Đã tuyên truyền, người dân sẽ tự cài",
        "Công nhân làm ca đêm, hẹn cuối tuần",
        "Người nhà đi vắng, để lại tờ hướng dẫn",
        "Đang bận bán hàng, hẹn chiều",
    ),
    "no_smartphone": (
        "Dùng điện thoại phím bấm, ghi vào danh sách riêng",
        "Bà {ord} lớn tuổi, không dùng điện thoại",
        "Con đi làm xa, chờ con về cài giúp",
        "Điện thoại hỏng, hẹn khi có máy mới",
        "Không có điện thoại, ghi danh sách riêng",
    ),
    "installed": (
        "Đã cài VNeID, chờ duyệt mức 2",
        "Đã thu nhận hồ sơ mức 2, chờ tin nhắn kích hoạt",
        "Chưa nhận được mã OTP, hẹn quay lại",
        "Đã chụp ảnh chân dung, chờ duyệt",
    ),
    "activated": (
        "Kích hoạt thành công",
        "Đã hướng dẫn dùng dịch vụ công trực tuyến",
        "Đăng ký trên điện thoại của TNV, đã ghi mật khẩu cho người dân",
        "Kích hoạt trên điện thoại của con",
        "Đã kích hoạt, hướng dẫn tích hợp giấy phép lái xe",
        "Đã kích hoạt và đổi mật khẩu",
    ),
    "refused": (
        "Không đồng ý cài đặt",
        "Không muốn cung cấp thông tin",
        "Người nhà không cho gặp",
    ),
    "ineligible": (
        "Chưa có căn cước gắn chip",
        "Đang chờ cấp đổi căn cước",
        "Sai thông tin trên căn cước, hướng dẫn lên công an phường",
    ),
}
# A family member's phone, or the volunteer's own (the articles: "giúp người dân đăng ký trên
# điện thoại của mình, rồi ghi lại cho họ mật khẩu").
FOLLOW_UP_NOTES = {
    "family": ("Kích hoạt trên điện thoại của con gái", "Cháu nội cài giúp trên máy của cháu"),
    "volunteer": (
        "Đăng ký trên điện thoại của TNV, đã ghi mật khẩu cho người dân",
        "Dùng máy của TNV, đã hướng dẫn đăng nhập lần sau",
    ),
}
# A relative at the door, after the citizen was activated at the office.
REFUSED_LATER = (
    "Người nhà nói không đồng ý, không cho gặp",
    "Bà {ord} nói không cài, không nhớ đã kích hoạt",
    "Chủ hộ từ chối, nói đã đủ giấy tờ",
)

# Household help: (kind, unit, quantity range, volunteers range, hours range, notes).
HELP = (
    ("yard_concrete", "m2", (20, 60), (5, 12), (3, 6),
     ("Đổ sân bê tông cho hộ nghèo", "Đổ sân bê tông trước nhà, bà con góp cát đá")),
    ("road_repair", "m", (40, 400), (8, 20), (3, 6),
     ("Tu sửa đường hẻm", "Trải đá, lấp ổ gà đường vào xóm")),
    ("sanitation", "item", (1, 1), (4, 8), (4, 7),
     ("Xây nhà tiêu hợp vệ sinh", "Lắp bồn cầu, xây nhà tiêu cho hộ nghèo")),
    ("sanitation", "m", (50, 700), (6, 15), (2, 5),
     ("Nạo vét mương thoát nước", "Khơi thông cống rãnh trước mùa mưa")),
    ("house_repair", "item", (6, 24), (4, 10), (3, 6),
     ("Thay tôn mái nhà bị dột", "Sửa vách, thay cửa cho nhà cụ {ord}")),
    ("cleanup", "m", (200, 1500), (10, 25), (2, 4),
     ("Phát dọn, vệ sinh đường xóm", "Dọn rác, phát quang bụi rậm ven đường")),
    ("other", "m", (100, 500), (6, 15), (2, 4),
     ("Trồng hoa hai bên đường", "Lắp đèn đường hẻm (thắp sáng đường quê)")),
)  # fmt: skip

# Gift programmes: (gift_kind, round, value range in đồng per unit, step, units, donors).
GIFTS = {
    "qua-ho-ngheo": ("2023-60-ngay-dem", (300_000, 500_000), 50_000),
    "gao": ("2023-thang-8", (180_000, 180_000), 1),  # a 10 kg bag
    "sach-vo": ("nam-hoc-2023-2024", (150_000, 200_000), 10_000),  # per child
    "xe-dap": ("nam-hoc-2023-2024", (1_500_000, 1_800_000), 100_000),
    "bon-cau": ("2023-nha-tieu", (1_800_000, 2_600_000), 100_000),
}
DONORS = (
    "Đoàn Thanh niên Công an tỉnh",
    "Hội Chữ thập đỏ phường",
    "Ủy ban MTTQ Việt Nam phường",
    "Nhà hảo tâm",
    "Công ty TNHH Giày da Thuận An",
    "Ban Giám đốc Công an tỉnh",
    "Hội Liên hiệp Phụ nữ phường",
)
GIFT_NOTES = {
    "qua-ho-ngheo": ("Gạo, dầu ăn, mì gói", "Trao tận nhà cho cụ {ord} neo đơn", None),
    "gao": ("Bao 10 kg", None),
    "sach-vo": ("Tập vở, bút, cặp cho học sinh nghèo", "Cho các cháu vào năm học mới"),
    "xe-dap": ("Xe đạp cho học sinh nghèo hiếu học",),
    "bon-cau": ("Kèm xây nhà tiêu hợp vệ sinh",),
}
VOID_REASONS = {
    "wrong_household": "Nhập nhầm hộ, đã nhập lại cho đúng hộ",
    "twice": "Lưu trùng hai lần",
    "wrong_value": "Nhập sai giá trị quà, đã nhập lại",
}

PHONES = (
    "Samsung Galaxy A12", "Samsung Galaxy A32", "Samsung Galaxy A04s", "OPPO A57", "OPPO A16",
    "OPPO Reno8", "Xiaomi Redmi Note 11", "Xiaomi Redmi 10C", "vivo Y21", "vivo Y35",
    "realme C35", "iPhone 11", "iPhone XR", "iPhone 12", "iPhone 8 Plus", "Nokia G20",
)  # fmt: skip
