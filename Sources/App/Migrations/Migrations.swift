import Fluent
import Vapor

/// The one ordered list of migrations. Order is global; names are stable; never remove or edit a shipped one.
enum Migrations {
    static func register(on app: Application) {
        app.migrations.add(SessionRecord.migration)
        app.migrations.add(CreateOrganisation())
        app.migrations.add(CreateReferenceData())
        app.migrations.add(SeedReferenceData())
        app.migrations.add(CreateAccounts())
        app.migrations.add(CreateOperations())
        app.migrations.add(CreateNeedsAnalysis())
        app.migrations.add(IndexSurveyAnswers())
        app.migrations.add(SeedDefaultInstrument())
        app.migrations.add(CreateRepository())
        app.migrations.add(CreateJobs())
        app.migrations.add(CreateExpertNetwork())
        app.migrations.add(CreatePlatformSettings())
        app.migrations.add(CreateNotifications())
        app.migrations.add(CreateListingResponses())
        app.migrations.add(AddExpertPhoto())
        app.migrations.add(CreateTraining())
        app.migrations.add(SeedTrainingModules())
        app.migrations.add(CreateElearning())
        app.migrations.add(CreateMoodleSync())
        app.migrations.add(SearchFacetLists())
    }
}
