import ArgumentParser

@main
struct LCOVNet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lcovnet",
        abstract: "Abdominal CT organ segmentation with an int8 LCOV-Net, as a command and a watch-folder daemon.",
        // One command per line, so that adding one never conflicts with adding another.
        subcommands: [
            DemoCommand.self,
            SegmentCommand.self,
            ConvertCommand.self,
            ServeCommand.self, WorkerCommand.self,
            StatusCommand.self,
            PhantomCommand.self, SynthesizeCommand.self,
            EvaluateCommand.self,
            ModelCommand.self,
            DicomWriteCommand.self,
            TrainCommand.self,
            DistillCommand.self,
            RetrainCommand.self,
            BenchCommand.self
        ])
}
