"""List pagination: `count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (max 1000).

The first page is read with one row more than it shows: when that extra row is not there, the
page holds the whole list and its length is the count, so the COUNT query (a second query, and on
annotated lists such as the nodes' a subquery) is not needed. Other pages count as before.
"""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from scheduler_site.formats import parse_int


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        """`?page_size=`: a whole number from 1 (more than the largest page means the largest page);
        anything else is a 400 naming it (DRF would quietly use the default)."""
        from scheduler_site.exceptions import DomainError

        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and raw.strip("0")):
            raise DomainError(f"Must be a whole number from 1 to {self.max_page_size}.", field="page_size")
        wanted = parse_int(raw, minimum=1, maximum=self.max_page_size) if len(raw) <= 6 else None
        return wanted or self.max_page_size

    def paginate_queryset(self, queryset, request, view=None):
        page_size = self.get_page_size(request)
        if not page_size or request.query_params.get(self.page_query_param, "1") != "1":
            return super().paginate_queryset(queryset, request, view)
        rows = list(queryset[: page_size + 1])
        paginator = self.django_paginator_class(rows[:page_size], page_size)
        if len(rows) > page_size:
            paginator = self.django_paginator_class(queryset, page_size)
            self.page = paginator._get_page(rows[:page_size], 1, paginator)  # count: one query, later
        else:
            self.page = paginator.page(1)  # the whole list: its length is the count
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        self.request = request
        return list(self.page)


class KeysetPagination:
    """Cursor pagination for long lists ordered by `-id` (the task list over 100,000 tasks):
    `?cursor=` (empty for the first page) then the `next_cursor` of each answer. A page is an index
    walk from the cursor (`id < cursor ORDER BY id DESC LIMIT n`), as fast on page 1,000 as on
    page 1, and rows inserted meanwhile never shift what follows. No `count` (a COUNT over every
    match is what gets slow); `?page=` pagination stays for clients that want it.
    """

    page_size = 50
    max_page_size = 1000

    def __init__(self, request) -> None:
        from scheduler_site.exceptions import DomainError

        self.request = request
        raw = request.query_params.get("cursor", "")
        self.after: int | None = None
        if raw:
            self.after = parse_int(raw, minimum=1, maximum=10**18 - 1) if len(raw) <= 18 else None
            if self.after is None:
                raise DomainError("Not a cursor this API gave out (use next_cursor).", field="cursor")
        size = request.query_params.get("page_size", "")
        # Any size past the largest page means the largest page, however many digits it has.
        wanted = parse_int(size, minimum=1, maximum=2**63) if size.isascii() and size.isdigit() else None
        if size and wanted is None and not (size.isascii() and size.isdigit() and size.strip("0")):
            raise DomainError(f"Must be a whole number from 1 to {self.max_page_size}.", field="page_size")
        self.size = min(wanted or self.max_page_size, self.max_page_size) if size else self.page_size

    @staticmethod
    def wanted(request) -> bool:
        return "cursor" in request.query_params and "page" not in request.query_params

    def page(self, queryset) -> tuple[list, str | None]:
        if self.after is not None:
            queryset = queryset.filter(pk__lt=self.after)
        rows = list(queryset[: self.size + 1])
        more = len(rows) > self.size
        rows = rows[: self.size]
        return rows, (str(rows[-1].pk) if more and rows else None)

    def response_body(self, results: list, next_cursor: str | None) -> dict:
        from django.http import QueryDict

        next_url = None
        if next_cursor:
            params: QueryDict = self.request.query_params.copy()
            params["cursor"] = next_cursor
            next_url = self.request.build_absolute_uri(f"{self.request.path}?{params.urlencode()}")
        return {"count": None, "next": next_url, "previous": None, "next_cursor": next_cursor, "results": results}
