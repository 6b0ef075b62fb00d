import Fluent
import Vapor

func routes(_ app: Application) throws {
    try app.register(collection: HealthRoutes())
    try app.register(collection: APIRoutes())

    let web = app.grouped(
        app.sessions.middleware, User.sessionAuthenticator(), LocaleMiddleware(), CSRFMiddleware())
    try web.register(collection: HomeRoutes())
    try web.register(collection: AccountRoutes())
    try web.register(collection: ProfileRoutes())
    try web.register(collection: MemberRoutes())
    try web.register(collection: OrganisationRoutes())
    try web.register(collection: ReferenceRoutes())
    try web.register(collection: AdminRoutes())
}
