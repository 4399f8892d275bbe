"""Log chunks hold bytes (docs/logs.md): the text column becomes a binary one (each stored text as
its UTF-8 bytes), and every chunk gets its line numbering: `cont` (it continues the unterminated
last line of its stream's previous chunk), `lines` (lines that start in it) and `line` (the number
of its first line over the attempt, in seq order). `gap` is new (0 for stored chunks).

The copy goes through Python, not `ALTER ... USING data::bytea` (PostgreSQL would read backslashes
in the text as escapes). The reverse decodes the bytes with U+FFFD for invalid sequences."""

from django.db import migrations, models

BATCH = 2000


def _starts(data: bytes, cont: bool) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - (1 if cont else 0)


def forward(apps, schema_editor):
    LogChunk = apps.get_model("tasks", "LogChunk")
    attempts = LogChunk.objects.values_list("task_id", "attempt").distinct().order_by("task_id", "attempt")
    for task_id, attempt in attempts.iterator():
        line = 0
        open_end = {1: False, 2: False}
        pending = []
        rows = LogChunk.objects.filter(task_id=task_id, attempt=attempt).order_by("seq").only("pk", "stream", "text")
        for chunk in rows.iterator(chunk_size=BATCH):
            data = (chunk.text or "").encode()
            cont = bool(data) and open_end.get(chunk.stream, False)
            lines = _starts(data, cont)
            if data:
                open_end[chunk.stream] = not data.endswith(b"\n")
            chunk.raw, chunk.cont, chunk.line, chunk.lines = data, cont, line, lines
            line += lines
            pending.append(chunk)
            if len(pending) >= BATCH:
                LogChunk.objects.bulk_update(pending, ["raw", "cont", "line", "lines"])
                pending = []
        if pending:
            LogChunk.objects.bulk_update(pending, ["raw", "cont", "line", "lines"])


def backward(apps, schema_editor):
    LogChunk = apps.get_model("tasks", "LogChunk")
    pending = []
    for chunk in LogChunk.objects.only("pk", "raw").iterator(chunk_size=BATCH):
        chunk.text = bytes(chunk.raw).decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        pending.append(chunk)
        if len(pending) >= BATCH:
            LogChunk.objects.bulk_update(pending, ["text"])
            pending = []
    if pending:
        LogChunk.objects.bulk_update(pending, ["text"])


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0006_users"),
    ]

    operations = [
        migrations.RenameField(model_name="logchunk", old_name="data", new_name="text"),
        migrations.AddField(model_name="logchunk", name="raw", field=models.BinaryField(default=b"")),
        migrations.AddField(
            model_name="logchunk", name="cont",
            field=models.BooleanField(default=False, help_text="continues the last line of this stream's previous chunk"),
        ),
        migrations.AddField(
            model_name="logchunk", name="gap",
            field=models.PositiveIntegerField(default=0, help_text="bytes the agent could not deliver in this place"),
        ),
        migrations.AddField(
            model_name="logchunk", name="line",
            field=models.BigIntegerField(default=0, help_text="0-based number of the first line that starts here"),
        ),
        migrations.AddField(
            model_name="logchunk", name="lines",
            field=models.PositiveIntegerField(default=0, help_text="how many lines start here"),
        ),
        migrations.RunPython(forward, backward, elidable=False),
        migrations.RemoveField(model_name="logchunk", name="text"),
        migrations.RenameField(model_name="logchunk", old_name="raw", new_name="data"),
        migrations.AddIndex(
            model_name="logchunk",
            index=models.Index(fields=["task", "attempt", "line"], name="logchunk_task_attempt_line"),
        ),
    ]
