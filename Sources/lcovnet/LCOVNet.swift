import ArgumentParser

@main
struct LCOVNet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lcovnet",
        abstract: "Abdominal CT organ segmentation with an int8 LCOV-Net, as a command and a watch-folder daemon.",
        subcommands: [ConvertCommand.self, DicomWriteCommand.self, PhantomCommand.self, ModelCommand.self,
                      ServeCommand.self, StatusCommand.self, BenchCommand.self])
}
