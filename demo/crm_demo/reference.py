"""Hold the reference data the synthetic portfolio draws firms from.

Everything here is plain data: registration districts with the branch that serves them,
GB/T 4754-2017 classes weighted like a corporate-lending book, and the words that make up
realistic Chinese legal names. Weights are relative; they need not sum to 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class District:
    """A registration district (GB/T 2260) and the bank branch that serves it."""

    region_code: str
    city: str  # full city name as it appears in legal names, e.g. "深圳市"
    city_short: str  # the city without 市, used in some names and in foreign-firm brackets
    district: str  # empty for firms registered at city level
    branch: str  # slug of the serving branch, used in team names
    weight: float


DISTRICTS: Final[tuple[District, ...]] = (
    District("110105", "北京市", "北京", "朝阳区", "beijing", 5),
    District("110108", "北京市", "北京", "海淀区", "beijing", 5),
    District("110102", "北京市", "北京", "西城区", "beijing", 3),
    District("310115", "上海市", "上海", "浦东新区", "shanghai", 6),
    District("310104", "上海市", "上海", "徐汇区", "shanghai", 3),
    District("310112", "上海市", "上海", "闵行区", "shanghai", 3),
    District("440300", "深圳市", "深圳", "", "shenzhen", 3),
    District("440305", "深圳市", "深圳", "南山区", "shenzhen", 4),
    District("440306", "深圳市", "深圳", "宝安区", "shenzhen", 4),
    District("440106", "广州市", "广州", "天河区", "guangzhou", 4),
    District("440113", "广州市", "广州", "番禺区", "guangzhou", 3),
    District("330106", "杭州市", "杭州", "西湖区", "hangzhou", 3),
    District("330110", "杭州市", "杭州", "余杭区", "hangzhou", 3),
    District("320106", "南京市", "南京", "鼓楼区", "nanjing", 3),
    District("320505", "苏州市", "苏州", "虎丘区", "suzhou", 3),
    District("320506", "苏州市", "苏州", "吴中区", "suzhou", 2),
    District("510107", "成都市", "成都", "武侯区", "chengdu", 3),
    District("510116", "成都市", "成都", "双流区", "chengdu", 2),
    District("420106", "武汉市", "武汉", "武昌区", "wuhan", 2),
    District("420111", "武汉市", "武汉", "洪山区", "wuhan", 2),
    District("370102", "济南市", "济南", "历下区", "jinan", 2),
    District("370212", "青岛市", "青岛", "崂山区", "qingdao", 2),
    District("500103", "重庆市", "重庆", "渝中区", "chongqing", 2),
    District("500112", "重庆市", "重庆", "渝北区", "chongqing", 2),
    District("120116", "天津市", "天津", "滨海新区", "tianjin", 3),
    District("610113", "西安市", "西安", "雁塔区", "xian", 2),
    District("350203", "厦门市", "厦门", "思明区", "xiamen", 2),
    District("410105", "郑州市", "郑州", "金水区", "zhengzhou", 2),
    District("430104", "长沙市", "长沙", "岳麓区", "changsha", 2),
)

MUNICIPALITIES: Final = frozenset({"北京", "上海", "天津", "重庆"})
"""Cities whose firms usually drop 市 in their names (北京华信…, not 北京市华信…)."""


@dataclass(frozen=True)
class IndustryChoice:
    """A GB/T 4754-2017 class with its weight in the book and the words used in names."""

    code: str
    weight: float
    words: tuple[str, ...]


# Corporate-lending weights per section: C 35, F 15, E 10, D 8, K 7, I 8, G 6, others 11.
INDUSTRIES: Final[tuple[IndustryChoice, ...]] = (
    IndustryChoice("C1331", 2.0, ("粮油", "粮油食品")),
    IndustryChoice("C1713", 2.0, ("纺织印染", "纺织")),
    IndustryChoice("C2211", 1.5, ("纸业", "浆纸")),
    IndustryChoice("C2614", 3.0, ("化工", "精细化工", "化学")),
    IndustryChoice("C2710", 2.5, ("制药", "药业", "医药")),
    IndustryChoice("C3011", 2.0, ("水泥", "建材")),
    IndustryChoice("C3130", 2.5, ("钢铁", "特钢", "钢材")),
    IndustryChoice("C3216", 1.5, ("铝业", "有色金属")),
    IndustryChoice("C3311", 2.0, ("钢结构", "钢构")),
    IndustryChoice("C3411", 1.5, ("锅炉", "热能设备")),
    IndustryChoice("C3484", 3.0, ("精密制造", "精密机械", "机械")),
    IndustryChoice("C3670", 3.0, ("汽车部件", "汽车零部件", "汽配")),
    IndustryChoice("C3841", 2.5, ("新能源电池", "电池", "储能科技")),
    IndustryChoice("C3982", 2.5, ("电子", "电路科技", "电子科技")),
    IndustryChoice("C3973", 1.5, ("半导体", "微电子")),
    IndustryChoice("C4011", 1.5, ("自动化", "仪表", "智能装备")),
    IndustryChoice("F5161", 1.5, ("煤炭贸易", "能源贸易")),
    IndustryChoice("F5162", 2.0, ("石化贸易", "石油化工")),
    IndustryChoice("F5164", 3.0, ("金属材料", "钢材贸易", "物资")),
    IndustryChoice("F5165", 2.0, ("建材贸易", "建材")),
    IndustryChoice("F5181", 2.0, ("国际贸易", "进出口", "商贸")),
    IndustryChoice("F5211", 1.5, ("百货", "商业")),
    IndustryChoice("F5212", 1.5, ("超市", "连锁超市")),
    IndustryChoice("F5261", 1.5, ("汽车销售", "汽车贸易")),
    IndustryChoice("E4710", 3.0, ("建设", "建工", "建筑工程")),
    IndustryChoice("E4811", 1.0, ("铁路工程", "轨道工程")),
    IndustryChoice("E4812", 2.0, ("路桥", "路桥工程", "公路工程")),
    IndustryChoice("E4813", 1.5, ("市政工程", "市政建设")),
    IndustryChoice("E4910", 1.5, ("电力安装工程", "机电安装")),
    IndustryChoice("E5011", 1.0, ("装饰工程", "建筑装饰")),
    IndustryChoice("D4411", 1.0, ("发电", "火电")),
    IndustryChoice("D4412", 1.0, ("热电", "热电联产")),
    IndustryChoice("D4413", 1.0, ("水电", "水电开发")),
    IndustryChoice("D4415", 1.5, ("风电", "风力发电")),
    IndustryChoice("D4416", 1.5, ("光伏", "光伏发电", "新能源")),
    IndustryChoice("D4420", 0.5, ("电力", "供电")),
    IndustryChoice("D4511", 1.0, ("燃气", "天然气")),
    IndustryChoice("D4610", 0.5, ("水务", "供水")),
    IndustryChoice("K7010", 5.0, ("置业", "房地产开发", "地产")),
    IndustryChoice("K7020", 1.5, ("物业服务", "物业管理")),
    IndustryChoice("K7040", 0.5, ("资产经营", "商业管理")),
    IndustryChoice("I6511", 1.5, ("软件", "软件技术")),
    IndustryChoice("I6513", 2.5, ("信息技术", "软件", "网络科技")),
    IndustryChoice("I6531", 2.0, ("系统集成", "数字科技", "信息系统")),
    IndustryChoice("I6532", 1.0, ("物联网科技", "智联科技")),
    IndustryChoice("I6550", 1.0, ("数据科技", "云计算")),
    IndustryChoice("G5431", 2.5, ("物流", "运输", "货运")),
    IndustryChoice("G5522", 1.0, ("航运", "海运")),
    IndustryChoice("G5821", 1.5, ("国际货运代理", "供应链管理")),
    IndustryChoice("G5920", 1.0, ("仓储", "仓储物流")),
    IndustryChoice("B0610", 2.0, ("煤业", "矿业", "能源")),
    IndustryChoice("L7212", 3.0, ("投资管理", "投资", "资产管理")),
    IndustryChoice("A0111", 1.0, ("农业发展", "粮食种植")),
    IndustryChoice("A0313", 1.0, ("牧业", "生态养殖")),
    IndustryChoice("H6110", 1.0, ("酒店", "酒店管理")),
    IndustryChoice("H6210", 1.0, ("餐饮", "餐饮管理")),
    IndustryChoice("M7320", 1.0, ("工程技术", "技术研究")),
    IndustryChoice("Q8411", 0.5, ("医院", "医疗")),
    IndustryChoice("N7820", 0.5, ("环境科技", "环保")),
)

# Project-finance borrowers: generation, transport and development projects (DOMAIN §3).
PROJECT_FINANCE_INDUSTRIES: Final[tuple[IndustryChoice, ...]] = (
    IndustryChoice("D4415", 3.0, ("风电", "风力发电")),
    IndustryChoice("D4416", 3.0, ("光伏发电", "太阳能发电")),
    IndustryChoice("D4413", 1.5, ("水电开发", "水电")),
    IndustryChoice("E4811", 1.0, ("城际铁路", "轨道交通投资")),
    IndustryChoice("E4812", 1.5, ("高速公路", "公路投资建设")),
    IndustryChoice("K7010", 1.5, ("城市更新", "项目开发")),
)

# What a firm of each section is called inside a profile label, e.g. "declining_real_estate".
SECTION_NOUNS: Final[dict[str, str]] = {
    "A": "farmer", "B": "miner", "C": "manufacturer", "D": "utility", "E": "builder",
    "F": "trader", "G": "logistics", "H": "hospitality", "I": "tech", "K": "real_estate",
    "L": "holding", "M": "research", "N": "environmental", "Q": "healthcare",
}  # fmt: skip

# Share of state-owned firms per section; energy, construction and mining lean state-owned.
STATE_OWNED_SHARE: Final[dict[str, float]] = {
    "D": 0.55, "E": 0.35, "G": 0.30, "B": 0.50, "L": 0.30, "K": 0.15, "Q": 0.40, "N": 0.40,
}  # fmt: skip
DEFAULT_STATE_OWNED_SHARE: Final = 0.09

# Brand characters (字号) with pinyin; two of them make a brand and a group slug.
BRAND_CHARS: Final[tuple[tuple[str, str], ...]] = (
    ("华", "hua"),
    ("信", "xin"),
    ("中", "zhong"),
    ("天", "tian"),
    ("鸿", "hong"),
    ("泰", "tai"),
    ("恒", "heng"),
    ("瑞", "rui"),
    ("博", "bo"),
    ("源", "yuan"),
    ("达", "da"),
    ("盛", "sheng"),
    ("宏", "hong"),
    ("鑫", "xin"),
    ("远", "yuan"),
    ("海", "hai"),
    ("金", "jin"),
    ("安", "an"),
    ("德", "de"),
    ("新", "xin"),
    ("东", "dong"),
    ("方", "fang"),
    ("长", "chang"),
    ("江", "jiang"),
    ("万", "wan"),
    ("正", "zheng"),
    ("弘", "hong"),
    ("景", "jing"),
    ("润", "run"),
    ("汇", "hui"),
    ("通", "tong"),
    ("联", "lian"),
    ("创", "chuang"),
    ("宇", "yu"),
    ("成", "cheng"),
    ("立", "li"),
    ("嘉", "jia"),
    ("和", "he"),
    ("兴", "xing"),
    ("荣", "rong"),
    ("佳", "jia"),
    ("丰", "feng"),
    ("永", "yong"),
    ("明", "ming"),
    ("科", "ke"),
    ("光", "guang"),
    ("晟", "sheng"),
    ("铭", "ming"),
    ("峰", "feng"),
    ("睿", "rui"),
    ("锦", "jin"),
    ("凯", "kai"),
    ("诚", "cheng"),
    ("启", "qi"),
    ("辰", "chen"),
    ("航", "hang"),
    ("亿", "yi"),
    ("富", "fu"),
    ("祥", "xiang"),
    ("瀚", "han"),
    ("卓", "zhuo"),
    ("越", "yue"),
    ("星", "xing"),
    ("云", "yun"),
    ("同", "tong"),
    ("力", "li"),
    ("振", "zhen"),
    ("昌", "chang"),
    ("隆", "long"),
    ("晶", "jing"),
)

# Legal-form suffixes of companies (公司法), most common first.
COMPANY_SUFFIXES: Final[tuple[tuple[str, float], ...]] = (
    ("有限公司", 75.0),
    ("股份有限公司", 15.0),
    ("有限责任公司", 10.0),
)

# Trade-name endings of individual businesses (个体工商户, credit-code prefix 92).
INDIVIDUAL_BUSINESS_WORDS: Final[tuple[str, ...]] = ("商行", "经营部", "百货店", "餐馆", "酒家")

# Business of farmers' cooperatives (农民专业合作社, credit-code prefix 93).
COOPERATIVE_WORDS: Final[tuple[str, ...]] = ("粮食种植", "水稻种植", "生猪养殖", "果蔬种植")
