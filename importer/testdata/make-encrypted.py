#!/usr/bin/python3
"""Saves users.xlsx again with the password "secret", as LibreOffice's
"save with password" does: users_encrypted.xlsx (ECMA-376 standard
encryption: an OLE compound file), users_encrypted.xls (BIFF8 with
FILEPASS) and users_encrypted.ods (encrypted package entries). Needs
LibreOffice and its Python bridge (Debian: libreoffice-calc-nogui,
python3-uno); run from importer/testdata with the Debian Python:
    /usr/bin/python3 make-encrypted.py
"""
import os
import subprocess
import tempfile
import time

import uno
from com.sun.star.beans import NamedValue, PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def named(name, value):
    v = NamedValue()
    v.Name, v.Value = name, value
    return v


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    profile = tempfile.mkdtemp()
    pipe = "rollcall_fixtures_%d" % os.getpid()
    office = subprocess.Popen([
        "soffice", "-env:UserInstallation=file://" + profile, "--headless", "--invisible",
        "--norestore", "--accept=pipe,name=%s;urp;" % pipe,
    ])
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(100):
            try:
                ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
                break
            except Exception:
                time.sleep(0.2)
        else:
            raise SystemExit("LibreOffice did not start")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        src = uno.systemPathToFileUrl(os.path.join(here, "users.xlsx"))
        # A new profile may still be settling: try the load a few times.
        for _ in range(50):
            doc = desktop.loadComponentFromURL(src, "_blank", 0, (prop("Hidden", True),))
            if doc is not None:
                break
            time.sleep(0.2)
        else:
            raise SystemExit("LibreOffice did not open users.xlsx")
        try:
            def store(ext, args):
                url = uno.systemPathToFileUrl(os.path.join(here, "users_encrypted." + ext))
                uno.invoke(doc, "storeToURL", (url, tuple(args)))

            store("xls", [prop("FilterName", "MS Excel 97"), prop("Password", "secret")])
            store("ods", [prop("FilterName", "calc8"), prop("Password", "secret")])
            # For OOXML the password goes in EncryptionData, as the save
            # dialog passes it.
            key = uno.Any("[]com.sun.star.beans.NamedValue",
                          (named("OOXPassword", "secret"), named("CryptoType", "Standard")))
            store("xlsx", [prop("FilterName", "Calc MS Excel 2007 XML"), PropertyValue("EncryptionData", 0, key, 0)])
        finally:
            doc.close(True)
    finally:
        office.terminate()
        office.wait()


if __name__ == "__main__":
    main()
