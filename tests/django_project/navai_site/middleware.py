"""A middleware of the project's own: proves NAVAI's answers went through Django."""


def mark_response(get_response):
    def middleware(request):
        response = get_response(request)
        response["X-Django-Middleware"] = "seen"
        return response

    return middleware
