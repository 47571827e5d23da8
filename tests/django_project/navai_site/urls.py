"""NAVAI at the root and again under /api/, guarded by Django's own auth."""

from pathlib import Path

from django.contrib.auth import login
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import include, path

from navai_adapters.django import navai_urls
from navai_core.exceptions import AuthorizationError

FUNCTIONS = str(Path(__file__).parents[1])


def signed_in(request) -> bool:
    """Only users signed in through Django's sessions."""
    if not request.native.user.is_authenticated:
        raise AuthorizationError("Sign in first.")
    return True


def sign_in(request):
    user, _ = User.objects.get_or_create(username=request.GET["user"])
    login(request, user)
    return HttpResponse("signed in")


def home(request):
    return HttpResponse("the site")


navai = navai_urls(functions_base_dir=FUNCTIONS, functions_folders="functions", authorize=signed_in)

urlpatterns = [
    path("", home),
    path("login", sign_in),
    path("", include(navai)),
    path("api/", include(navai)),
]
