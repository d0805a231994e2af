using Flashduty.Simulator;

var app = SimulatorApp.Build(args);
app.Run();
