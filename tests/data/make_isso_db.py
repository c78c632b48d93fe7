"""Makes a real Isso database by running Isso (from PyPI) as its readers and moderators do.

    python make_isso_db.py OUT.db OUT.json

Readers post through Isso's own WSGI app with werkzeug's test client (POST /new?uri=..., replies
with `parent`), with moderation on so comments wait in the queue; a moderator then activates or
deletes some through Isso's moderation endpoint (/id/ID/activate|delete/KEY, the key Isso signs
for its notification emails). Whatever Isso does on the way (escaping author names, masking
addresses, moving a reply to a reply up to the top comment, emptying a deleted comment that has
replies and removing one that has none) is in the database the test imports.

OUT.json holds what Isso itself shows: for every thread, the answer of Isso's public
GET /?uri=... (published comments, replies nested, texts rendered by Isso's markup), and the ids
still waiting in the moderation queue. The test compares Saring's widget and queue with it.
"""

import json
import sys

from werkzeug.test import Client
from werkzeug.wrappers import Response

from isso import Isso, config, core


def main(db_path, out_path):
    conf = config.load(config.default_file())
    conf.set("general", "dbpath", db_path)
    conf.set("general", "host", "https://berita.contoh.id")
    conf.set("moderation", "enabled", "true")
    conf.set("guard", "enabled", "false")

    class App(Isso, core.Mixin):
        pass

    app = App(conf)
    client = Client(app, Response)

    def post(uri, title, ip, **fields):
        rv = client.post(
            "/new?uri=" + uri,
            data=json.dumps(dict(fields, title=title)),
            content_type="application/json",
            environ_base={"REMOTE_ADDR": ip},
        )
        assert rv.status_code in (201, 202), (rv.status_code, rv.data)
        return json.loads(rv.data)["id"]

    def moderate(comment_id, action):
        key = app.sign(comment_id)
        rv = client.post("/id/%d/%s/%s" % (comment_id, action, key))
        assert rv.status_code == 200, (rv.status_code, rv.data)

    jalan, jalan_title = "/artikel/2024/05/jalan-desa/", "Jalan desa rusak"
    banjir, banjir_title = "/artikel/2024/06/banjir/", "Banjir di Kampung Melayu"

    sari = post(
        jalan,
        jalan_title,
        "203.0.113.7",
        text="Jalannya *rusak* parah & licin sejak Senin.\n\nTolong segera diperbaiki.",
        author="Sari",
        email="sari@contoh.id",
        website="https://sari.contoh.id/?dari=berita&hal=2",
    )
    budi = post(
        jalan,
        jalan_title,
        "198.51.100.23",
        text="Betul, saya lewat sana kemarin. Motor saya hampir jatuh.",
        author="Budi & Rekan <Bengkel>",
        email="budi@contoh.id",
        parent=sari,
    )
    # A reply to a reply: Isso stores it under the top comment.
    nested = post(
        jalan,
        jalan_title,
        "203.0.113.8",
        text="Semoga cepat ditambal, Pak Budi.",
        author="Sari",
        email="sari@contoh.id",
        parent=budi,
    )
    spam = post(
        jalan,
        jalan_title,
        "192.0.2.66",
        text='<script>alert("x")</script>Obat murah! <a href="http://spam.contoh.id">klik</a>',
        author="Promo",
        email="promo@contoh.id",
        website="http://spam.contoh.id",
    )
    dewi = post(
        jalan,
        jalan_title,
        "2001:db8:1234:5678::9",
        text="Siapa yang bertanggung jawab atas jalan ini?",
        author="Dewi",
        email="dewi@contoh.id",
    )
    dinas = post(
        jalan,
        jalan_title,
        "203.0.113.9",
        text="Dinas PU, katanya. Sudah dilaporkan <b>dua kali</b>.",
        author="Anto",
        parent=dewi,
    )
    anonim = post(
        jalan,
        jalan_title,
        "203.0.113.10",
        text="**Tebal** dan `kode` &amp; tanda <i>miring</i> — terima kasih.",
    )
    gone = post(jalan, jalan_title, "203.0.113.11", text="Komentar yang dihapus tanpa balasan.", author="Eko")
    warga = post(
        banjir,
        banjir_title,
        "198.51.100.40",
        text="Rumah saya kebanjiran lagi, airnya setinggi lutut.",
        author="Warga RT 05",
        email="warga@contoh.id",
    )
    waiting = post(banjir, banjir_title, "198.51.100.41", text="Menunggu moderator.", author="Rina")

    for comment_id in (sari, budi, nested, dewi, dinas, anonim, gone, warga):
        moderate(comment_id, "activate")
    # Deleted by the moderator: Dewi's has a reply, so Isso keeps it emptied (mode 4); Eko's has
    # none, so Isso removes it.
    moderate(dewi, "delete")
    moderate(gone, "delete")

    shown = {}
    for uri in (jalan, banjir):
        rv = client.get("/?uri=" + uri)
        assert rv.status_code == 200, (rv.status_code, rv.data)
        shown[uri] = json.loads(rv.data)
    pending = [c["id"] for c in app.db.comments.fetchall(mode=2)]
    assert sorted(pending) == sorted([spam, waiting]), pending
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump({"threads": shown, "pending": pending}, out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
