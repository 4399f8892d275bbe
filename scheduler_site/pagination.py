"""List pagination: `count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (max 1000).

The first page is read with one row more than it shows: when that extra row is not there, the
page holds the whole list and its length is the count, so the COUNT query (a second query, and on
annotated lists such as the nodes' a subquery) is not needed. Other pages count as before.
"""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000

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
