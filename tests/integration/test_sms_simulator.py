"""The SMS simulator speaks Twilio's Messages API: basic auth, form fields, 201 with the message, and
Twilio's error shape with 401 and 400; the notifier's sender reads those errors and records them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from service.notify_config import SmsTarget
from service.notify_send import SendError, send_sms
from simulators.sms import SmsSimulator


@pytest_asyncio.fixture
async def sms() -> AsyncIterator[SmsSimulator]:
    simulator = SmsSimulator("AC1", "token-1")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_a_message_with_good_credentials_is_created_and_listed(sms: SmsSimulator) -> None:
    await send_sms(SmsTarget(sms.base_url, "AC1", "token-1", "+15550000001"), "+15550000002", "hello")
    assert [(m["to"], m["from"], m["body"], m["status"]) for m in sms.messages] == [
        ("+15550000002", "+15550000001", "hello", "queued")]
    async with aiohttp.ClientSession() as session, session.get(f"{sms.base_url}/messages") as answer:
        assert (await answer.json())["messages"][0]["sid"].startswith("SM")


async def test_wrong_credentials_get_twilios_401_error_shape(sms: SmsSimulator) -> None:
    url = f"{sms.base_url}/2010-04-01/Accounts/AC1/Messages.json"
    async with aiohttp.ClientSession() as session, session.post(
            url, data={"To": "+15550000002", "From": "+15550000001", "Body": "x"},
            headers={"Authorization": aiohttp.encode_basic_auth("AC1", "wrong")}) as answer:
        body = await answer.json()
    assert answer.status == 401
    assert set(body) == {"code", "message", "more_info", "status"} and body["code"] == 20003
    with pytest.raises(SendError, match="401"):
        await send_sms(SmsTarget(sms.base_url, "AC1", "wrong", "+15550000001"), "+15550000002", "x")
    assert sms.messages == []


@pytest.mark.parametrize(("to", "code"), [("", 21604), ("555-1234", 21211)])
async def test_a_missing_or_wrong_number_gets_a_400_naming_it(sms: SmsSimulator, to: str, code: int) -> None:
    url = f"{sms.base_url}/2010-04-01/Accounts/AC1/Messages.json"
    async with aiohttp.ClientSession() as session, session.post(
            url, data={"To": to, "From": "+15550000001", "Body": "x"},
            headers={"Authorization": aiohttp.encode_basic_auth("AC1", "token-1")}) as answer:
        body = await answer.json()
    assert answer.status == 400 and body["code"] == code and body["status"] == 400 and "'To'" in body["message"]
    with pytest.raises(SendError, match=r"400: .*'To'"):
        await send_sms(SmsTarget(sms.base_url, "AC1", "token-1", "+15550000001"), to or "x", "x")
