"""The SFTP requests the wholesale connector makes, each a function of the open client, so the
connector runs every one of them the same way (under its limiter, errors translated once). Files
still being written (temporary names) and anything but regular files are not listed."""

from __future__ import annotations

import stat

import asyncssh

from connectors.wholesale_files import is_temporary


async def file_names(folder: str, sftp: asyncssh.SFTPClient) -> list[str]:
    names = await sftp.readdir(folder)
    return sorted(n.filename for n in names if isinstance(n.filename, str) and not is_temporary(n.filename)
                  and n.attrs.permissions is not None and stat.S_ISREG(n.attrs.permissions))


async def read(path: str, sftp: asyncssh.SFTPClient) -> bytes:
    async with sftp.open(path, "rb") as file:
        data: bytes = await file.read()
        return data


async def write(path: str, text: str, sftp: asyncssh.SFTPClient) -> None:
    async with sftp.open(path, "w", encoding="utf-8") as file:
        await file.write(text)


async def move(source: str, destination: str, sftp: asyncssh.SFTPClient) -> None:
    try:  # replaces a same-named file already archived (a resent PO file)
        await sftp.posix_rename(source, destination)
    except asyncssh.SFTPOpUnsupported:
        await sftp.rename(source, destination)


async def remove(path: str, sftp: asyncssh.SFTPClient) -> None:
    await sftp.remove(path)


async def isdir(path: str, sftp: asyncssh.SFTPClient) -> bool:
    return await sftp.isdir(path)


async def makedirs(path: str, sftp: asyncssh.SFTPClient) -> None:
    await sftp.makedirs(path, exist_ok=True)
