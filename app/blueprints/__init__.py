"""One blueprint per area of the product."""


def register_blueprints(app) -> None:
    from app.blueprints.account.views import bp as account
    from app.blueprints.accreditation_requests.decisions import bp as accreditation_decisions
    from app.blueprints.accreditation_requests.views import bp as accreditation_requests
    from app.blueprints.accreditations.views import bp as accreditations
    from app.blueprints.auth.views import bp as auth
    from app.blueprints.catalogue.views import bp as catalogue
    from app.blueprints.cert_sessions.views import bp as cert_sessions
    from app.blueprints.dashboard.views import bp as dashboard
    from app.blueprints.entity_requests.views import bp as entity_requests
    from app.blueprints.entity_users.views import bp as entity_users
    from app.blueprints.exports.views import bp as exports
    from app.blueprints.funds.views import bp as funds
    from app.blueprints.help.views import bp as help_bp
    from app.blueprints.imports.views import bp as imports
    from app.blueprints.instruction.views import bp as instruction
    from app.blueprints.messages.views import bp as messages
    from app.blueprints.organizations.views import bp as organizations
    from app.blueprints.people.views import bp as people
    from app.blueprints.public.views import bp as public
    from app.blueprints.qualifications.views import bp as qualifications
    from app.blueprints.stats.views import bp as stats

    for blueprint in (
        auth,
        account,
        dashboard,
        help_bp,
        organizations,
        entity_requests,
        entity_users,
        accreditations,
        accreditation_requests,
        accreditation_decisions,
        cert_sessions,
        instruction,
        catalogue,
        people,
        qualifications,
        funds,
        imports,
        messages,
        public,
        stats,
        exports,
    ):
        app.register_blueprint(blueprint)
    if app.config["ENV"] == "development":
        from app.blueprints.dev.views import bp as dev

        app.register_blueprint(dev)
