"""List pagination: `count`, `next`, `previous`, `results`; `?page=` and `?page_size=` (max 1000)."""

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
