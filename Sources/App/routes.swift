import Fluent
import Vapor

func routes(_ app: Application) throws {
    try app.register(collection: HealthRoutes())
    try app.register(collection: APIRoutes())
    try app.register(collection: OAIRoutes())
    try app.register(collection: RepositoryAPI())
    try app.register(collection: CoordinationAPI())
    try app.register(collection: TrainingAPI())
    try app.register(collection: CourseAPI())

    // Web pages: the session's person, their language, CSRF checks on every state-changing form.
    // The API authenticates by token only, so a browser session can never drive it (no CSRF exposure).
    let web = app.grouped(User.sessionAuthenticator(), LocaleMiddleware(), CSRFMiddleware())
    try web.register(collection: HomeRoutes())
    try web.register(collection: AccountRoutes())
    try web.register(collection: ProfileRoutes())
    try web.register(collection: MemberRoutes())
    try web.register(collection: OrganisationRoutes())
    try web.register(collection: ReferenceRoutes())
    try web.register(collection: AdminRoutes())
    try web.register(collection: NameEditorRoutes())
    try web.register(collection: CampaignRoutes())
    try web.register(collection: RespondRoutes())
    try web.register(collection: ResultsRoutes())
    try web.register(collection: InstrumentRoutes())
    try web.register(collection: RepositoryRoutes())
    try web.register(collection: RequestRoutes())
    try web.register(collection: ExpertRoutes())
    try web.register(collection: NotificationRoutes())
    try web.register(collection: CoordinationDashboardRoutes())
    try web.register(collection: ModuleEditorRoutes())
    try web.register(collection: ModuleRoutes())
    try web.register(collection: EventRoutes())
    try web.register(collection: CertificateRoutes())
    try web.register(collection: TrainedAcademicsRoutes())
    try web.register(collection: TrainingCalendarRoutes())
    try web.register(collection: PortfolioRoutes())
    try web.register(collection: CourseRoutes())
    try web.register(collection: MoodleRoutes())
}
