"""The models django-scim2's default adapters read: its abstract SCIM mixins on a
Django user and a group, as its README describes (no adapter is overridden)."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    # SCIMGroup reads `name` and `user_set`.
    name = models.CharField(max_length=254)

    def __str__(self):
        return self.name


class User(AbstractSCIMUserMixin, AbstractUser):
    # SCIMUser reads `scim_groups`, which the mixin leaves to the host.
    scim_groups = models.ManyToManyField(Group, related_name="user_set", blank=True)
