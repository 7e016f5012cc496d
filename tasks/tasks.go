package tasks

import archivist "github.com/rpg-archivist/archivist"

// Task types registered by Register.
const (
	TypeEcho         = "echo"
	TypeSleep        = "sleep"
	TypeFail         = "fail"
	TypeDiceSimulate = "dice.simulate"
)

// Register adds every built-in task type to reg.
func Register(reg *archivist.Registry) {
	reg.Register(TypeEcho, EchoHandler{})
	reg.Register(TypeSleep, SleepHandler{})
	reg.Register(TypeFail, FailHandler{})
	reg.Register(TypeDiceSimulate, DiceSimulateHandler{})
}
