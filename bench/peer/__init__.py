"""A minimal Django project serving stock django-scim2 0.23, the benchmark's peer."""
