"""Users: registration, login, sessions, API tokens."""


def includeme(config):
    config.include(".security")
    config.add_route("register", "/account/register/")
    config.add_route("login", "/account/login/")
    config.add_route("logout", "/account/logout/")
    config.add_route("account", "/account/")
    config.add_route("account_password", "/account/password/")
    config.add_route("account_tokens", "/account/tokens/")
    config.add_route("account_token_revoke", "/account/tokens/{token_id}/revoke/")
    config.add_route("profile", "/user/{username}/")
