"""The one reviewed table of everyday words -> statute words, for what the question set cannot teach.

Most everyday wording is learned from the question set at index build (``assistant.search.learned``: 假货 ->
欺诈 三倍, 冷静期 -> 撤回离婚登记申请). This table holds the rest: words whose statute counterpart a model
learned from a few thousand questions gets wrong or cannot know (酒驾 is 饮酒后驾驶, 醉驾 is 醉酒驾驶 and a
crime; 坐牢 is 有期徒刑), each a general legal reading, not an answer to any one question. It used to be two
tables that disagreed (``select.EVERYDAY_TERMS`` and ``text.QUERY_SYNONYMS``); both read from here now, through
``assistant.search.query.Query`` (the answer side) and ``text.query_tokens`` (the search side).
"""
from __future__ import annotations

#: everyday word -> statute words (space-separated), longest words matched first
REVIEWED_TERMS: dict[str, str] = {
    # crimes and public order
    **dict.fromkeys(("偷走", "偷窃", "窃得", "窃取", "盗走", "扒窃", "被盗", "行窃", "偷盗", "偷东西"), "盗窃"),
    **dict.fromkeys(("骗取", "谎称", "冒充", "骗走", "行骗", "骗钱"), "诈骗 骗取"),
    **dict.fromkeys(("殴打", "打伤", "捅伤", "砍伤", "刺伤", "轻伤", "重伤", "致伤"), "伤害 故意伤害"),
    "打人": "殴打 伤害", "打架": "殴打", "斗殴": "殴打 斗殴",
    **dict.fromkeys(("抢走", "劫得", "抢得", "劫取"), "抢劫"),
    **dict.fromkeys(("冰毒", "海洛因", "甲基苯丙胺", "吸毒", "K粉", "氯胺酮"), "毒品"),
    # 酒驾 / 醉驾 only: the statute's own 饮酒后驾驶 / 醉酒驾驶 are no everyday words, and mapping them to
    # 机动车 sent 饮酒后驾驶游艇 to the road-traffic articles instead of the boat law that answers it
    "酒驾": "饮酒后驾驶机动车", "醉驾": "醉酒驾驶机动车 危险驾驶",
    **dict.fromkeys(("车祸", "撞倒", "撞伤", "撞死", "撞人"), "交通事故"),
    "驾照": "机动车驾驶证",
    **dict.fromkeys(("赌钱", "赌资", "开赌场"), "赌博 赌场"),
    **dict.fromkeys(("好处费", "收钱办事"), "受贿 贿赂"), "送礼": "行贿",
    **dict.fromkeys(("坐牢", "判几年", "判刑", "蹲监狱"), "有期徒刑"),
    # family
    **dict.fromkeys(("老婆", "老公", "丈夫", "妻子", "媳妇"), "配偶 夫妻"),
    **dict.fromkeys(("小孩", "孩子", "儿子", "女儿"), "子女 未成年人"),
    "家暴": "家庭暴力", "出轨": "重婚 同居 过错", "小三": "重婚 同居 过错", "婚外情": "重婚 同居 过错",
    "冷静期": "撤回离婚登记申请", "婚前买的": "一方的婚前财产 个人财产", "婚前": "婚前财产",
    "结婚年龄": "结婚年龄 周岁", "成年": "成年人", "不满八周岁": "无民事行为能力人 民事法律行为",
    "签的合同": "民事法律行为", "收养孩子": "收养人", "产假": "生育 产假",
    **dict.fromkeys(("去世", "死了", "过世"), "死亡 继承"), "养老人": "赡养",
    # work
    "加班费": "延长工作时间 工资报酬", "加班": "延长工作时间", "工资": "劳动报酬", "薪水": "劳动报酬",
    **dict.fromkeys(("欠薪", "拖欠工资"), "拖欠 劳动报酬"),
    **dict.fromkeys(("辞退", "开除", "炒鱿鱼"), "解除劳动合同"), "裁员": "裁减人员",
    **dict.fromkeys(("不签劳动合同", "没签合同", "不签合同"), "未订立书面劳动合同"),
    # money, property, consumers
    **dict.fromkeys(("借钱", "欠钱", "欠款", "还钱"), "借款 债务"), "老赖": "被执行人",
    "房子": "房屋", "住房": "房屋", "房东": "出租人", "租客": "承租人", "物业": "物业服务人",
    "假货": "经营者 欺诈 消费者 赔偿 假冒", "冒牌": "假冒", "山寨": "假冒", "被坑": "欺诈", "坑人": "欺诈",
    "过期": "不符合食品安全标准", "太高": "过分高于", "时效": "时效 期间", "个人信息泄露": "个人信息 泄露",
    "网购": "网络 购买", "退货": "退货 无理由", "过期食品": "不符合食品安全标准的食品",
    "违约金太高": "违约金 过分高于造成的损失",
    # harm
    **dict.fromkeys(("狗", "猫", "宠物"), "饲养的动物"), "咬伤": "动物 损害",
    **dict.fromkeys(("高空抛物", "楼上扔"), "建筑物中抛掷物品"), "坠物": "建筑物上坠落的物品",
    "噪音": "噪声", "赔钱": "赔偿", "打官司": "诉讼 起诉", "告他": "诉讼 起诉",
}


def statute_words(text: str) -> list[str]:
    """The statute words of the everyday words in ``text`` (longest everyday words first, each once)."""
    out: list[str] = []
    covered = text
    for word in _BY_LENGTH:
        if word in covered:
            out.append(REVIEWED_TERMS[word])
            covered = covered.replace(word, " ")
    return out


_BY_LENGTH = sorted(REVIEWED_TERMS, key=len, reverse=True)
