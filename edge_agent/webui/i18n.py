"""User-facing text of the web UI: zh-CN first, English available. ``t(key, lang)``.

Messages from the registry's validation arrive already in zh-CN (with English after " / " when
the registry gives it); they are shown as they are.
"""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

MESSAGES: dict[str, tuple[str, str]] = {
    # chrome
    "app.title": ("实名制考勤 · 人员登记", "Real-name attendance · enrollment"),
    "nav.workers": ("人员名册", "Workers"),
    "nav.enroll": ("登记新人员", "Enroll a worker"),
    "nav.import": ("批量导入", "Import"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.lang": ("English", "中文"),
    # login
    "login.title": ("员工登录", "Staff login"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.locked": ("登录失败次数过多，已暂时锁定，请稍后再试", "Too many failed logins: locked for a while, try later"),
    # errors
    "err.400": ("请求无效", "Bad request"),
    "err.401": ("请先登录", "Please log in"),
    "err.403": ("无权执行此操作", "You may not do this"),
    "err.403.csrf": ("页面已过期或请求来源无效，请刷新页面后重试", "The page expired or the request was forged: reload and retry"),
    "err.404": ("页面不存在", "Not found"),
    "err.405": ("不支持此请求方式", "Method not allowed"),
    "err.409": ("该人员当前状态不允许此操作（例如已退场）", "Not possible in the worker's current state (e.g. exited)"),
    "err.411": ("请求缺少长度", "Length required"),
    "err.413": ("上传内容过大", "Upload too large"),
    "err.415": ("不支持的内容类型", "Unsupported content type"),
    "err.500": ("服务器内部错误，数据未保存，请重试", "Internal error: nothing was saved, please retry"),
    "err.503": ("设备或服务暂不可用", "Device or service unavailable"),
    "err.back": ("返回", "Back"),
    # workers
    "workers.title": ("人员名册", "Workers"),
    "workers.search": ("搜索", "Search"),
    "workers.name": ("姓名", "Name"),
    "workers.team": ("班组", "Team"),
    "workers.company": ("所属单位", "Company"),
    "workers.status": ("状态", "Status"),
    "workers.id_number": ("证件号码", "ID number"),
    "workers.work_type": ("工种", "Work type"),
    "workers.face": ("人脸", "Face"),
    "workers.none": ("没有符合条件的人员", "No worker matches"),
    "workers.prev": ("上一页", "Previous"),
    "workers.next": ("下一页", "Next"),
    "workers.any": ("全部", "Any"),
    "status.active": ("在场", "on site"),
    "status.exited": ("已退场", "exited"),
    "worker.punches": ("本工地考勤记录", "Punches on this site"),
    "worker.no_punches": ("暂无考勤记录", "No punches yet"),
    "worker.time": ("时间", "Time"),
    "worker.gate": ("闸机", "Gate"),
    "worker.direction": ("方向", "Direction"),
    "worker.capture": ("采集人脸", "Capture the face"),
    "worker.exit": ("办理退场", "Exit (退场)"),
    "worker.consent": ("人脸信息处理同意", "Consent to face processing"),
    "worker.consent.yes": ("已同意", "given"),
    "worker.consent.no": ("未同意（以刷身份证并经工作人员确认方式通行）",
                          "refused (passes by ID card swipe, staff-confirmed)"),
    "worker.consent.grant": ("记录：本人同意", "Record: consents"),
    "worker.consent.refuse": ("记录：本人拒绝 / 撤回同意", "Record: refuses / withdraws"),
    "worker.consent.none": ("尚未记录", "not recorded"),
    "consent.decision.granted": ("同意", "consented"),
    "consent.decision.refused": ("拒绝", "refused"),
    "consent.decision.withdrawn": ("撤回同意", "withdrew consent"),
    "direction.in": ("进", "in"),
    "direction.out": ("出", "out"),
    # enroll
    "enroll.title": ("登记新人员", "Enroll a worker"),
    "enroll.swipe": ("读取身份证", "Read the ID card"),
    "enroll.swipe.wait": ("请将身份证放在读卡器上…", "Place the ID card on the reader…"),
    "enroll.swipe.ok": ("已读取身份证，请核对信息", "ID card read: check the fields"),
    "enroll.swipe.none": ("读卡器上没有身份证", "No card on the reader"),
    "enroll.swipe.off": ("未配置身份证读卡器，请手工录入", "No ID card reader configured: enter by hand"),
    "enroll.swipe.fail": ("读卡失败，请重新放置身份证或手工录入", "Reading failed: place the card again or enter by hand"),
    "edit.title": ("修改人员信息", "Correct the record"),
    "worker.edit": ("修改信息", "Correct the record"),
    "enroll.save": ("保存", "Save"),
    "enroll.errors": ("请更正标出的错误，未保存任何内容", "Correct the marked fields: nothing was saved"),
    "enroll.saved": ("已保存", "Saved"),
    "enroll.consent": ("本人同意为考勤通行目的采集和处理人脸信息（可拒绝，拒绝后以刷身份证并经工作人员确认方式通行）",
                       "I consent to face capture and processing for gate attendance (may refuse: then the "
                       "worker passes by ID card swipe, staff-confirmed)"),
    "section.identity": ("身份信息", "Identity"),
    "section.contact": ("联系方式", "Contact"),
    "section.employment": ("用工信息", "Employment"),
    "section.certificate": ("岗位证书", "Post certificate"),
    "section.contract": ("劳动合同", "Labour contract"),
    # capture
    "capture.title": ("人脸采集", "Face capture"),
    "capture.start": ("开始采集", "Start capture"),
    "capture.hint": ("请正对摄像头，保持不动", "Face the camera and hold still"),
    "capture.no_consent": ("该人员未同意人脸信息处理，不能采集人脸", "No consent to face processing: no capture"),
    "capture.no_camera": ("未配置摄像头", "No camera configured"),
    "capture.done": ("人脸已采集并加密保存", "Face captured and stored encrypted"),
    "capture.duplicate": ("该人脸已属于另一证件号码的人员，已停止。请核对两条记录",
                          "This face already belongs to another ID number: stopped. Check both records"),
    "capture.spoof": ("活体检测未通过（疑似照片或屏幕），请本人正对摄像头重试",
                      "Liveness failed (photo or screen?): the person must face the camera and retry"),
    "capture.inconclusive": ("活体检测无法判断，请重试", "Liveness inconclusive: retry"),
    "capture.busy": ("另一次人脸采集正在进行", "Another capture is running"),
    "capture.blink": ("请眨眼", "Please blink"),
    "capture.turn_head": ("请缓慢左右转头", "Please turn your head slowly left and right"),
    "capture.timeout": ("在规定时间内未采到足够的合格画面，请重试", "Not enough good frames in time: retry"),
    "quality.ok": ("画面合格", "good"),
    "quality.no_face": ("未检测到人脸", "no face found"),
    "quality.move_closer": ("请靠近一些", "move closer"),
    "quality.look_at_camera": ("请正对摄像头", "face the camera"),
    "quality.too_dark": ("光线太暗", "too dark"),
    "quality.too_bright": ("光线太亮", "too bright"),
    "quality.hold_still": ("请保持不动", "hold still"),
    "quality.one_at_a_time": ("画面中不止一张人脸", "more than one face"),
    # exit
    "exit.title": ("办理退场", "Exit (退场)"),
    "exit.date": ("退场日期", "Exit date"),
    "exit.evaluation": ("评价", "Evaluation"),
    "exit.credit": ("诚信记录备注", "Credit remarks"),
    "exit.wages": ("工资已结清（本人确认）", "Wages settled (confirmed by the worker)"),
    "exit.submit": ("确认退场", "Confirm exit"),
    "exit.done": ("已退场，闸机自此拒绝通行，记录保留", "Exited: the gate refuses from now on; records are kept"),
    # import
    "import.title": ("批量导入（CSV / XLSX）", "Bulk import (CSV / XLSX)"),
    "import.file": ("选择文件", "File"),
    "import.submit": ("上传并导入", "Upload and import"),
    "import.progress": ("导入进度", "Progress"),
    "import.report": ("逐行报告", "Per-row report"),
    "import.row": ("行号", "Row"),
    "import.result": ("结果", "Result"),
    "import.ok": ("已导入", "imported"),
    "import.bad_type": ("只支持 CSV 或 XLSX 文件", "Only CSV or XLSX files"),
    "import.no_file": ("请选择一个文件", "Choose a file"),
}


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    zh, en = MESSAGES.get(key, (key, key))
    return en if lang == "en" else zh


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG
