"""Helpers for the roster tests: valid ID numbers and company codes, a valid record."""

from __future__ import annotations

import datetime as dt

from edge_agent.roster.validate import uscc_check_char
from shared_schema.idcard import check_character

TODAY = dt.date.today()


def resident_id(region: str = "440106", birth: dt.date = dt.date(1990, 1, 1), order: int = 123) -> str:
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_character(first17)


def uscc(body: str = "91440101MA5CXXXX0") -> str:
    return body + uscc_check_char(body)


def record(**over) -> dict:
    """A valid worker record (resident ID, construction worker with a fixed-term contract)."""
    d = dict(id_type="01", id_number=resident_id(), name="张三", nation="01", address="广州市天河区某路1号",
             issuing_authority="广州市公安局天河分局", id_valid_from="2015-01-01",
             id_valid_to=(TODAY + dt.timedelta(days=3650)).isoformat(), phone="13800138000",
             emergency_contact="李四", emergency_phone="13900139000", education="03",
             company_code=uscc(), company_name="某劳务有限公司", company_kind="subcontractor", team_code="T01",
             team_name="钢筋一班", team_leader="王五", work_type="020", role="worker",
             contract_period_type="fixed_term", contract_start="2026-01-01", contract_end="2027-12-31",
             contract_unit="day", contract_unit_price="350")
    d.update(over)
    return {k: v for k, v in d.items() if v is not None}


def manager(**over) -> dict:
    d = record(role="manager", post="PM", certificate_number="粤144060800123", certificate_company="某建设集团",
               work_type=None, team_code=None, team_name=None, team_leader=None, contract_period_type=None,
               contract_start=None, contract_end=None, contract_unit=None, contract_unit_price=None,
               company_kind="general_contractor")
    d.update(over)
    return {k: v for k, v in d.items() if v is not None}
