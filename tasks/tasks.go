package tasks

import (
	"os"

	archivist "github.com/rpg-archivist/archivist"
)

// Task types registered by Register.
const (
	TypeEcho           = "echo"
	TypeSleep          = "sleep"
	TypeFail           = "fail"
	TypeDiceSimulate   = "dice.simulate"
	TypeTextSummarize  = "text.summarize"
	TypeTextEntities   = "text.entities"
	TypeTextIndex      = "text.index"
	TypeImageThumbnail = "image.thumbnail"
)

// Register adds every built-in task type to reg. The thumbnail folder comes
// from the environment variable ARCHIVIST_THUMBNAIL_DIR (ThumbnailDirEnv);
// when it is unset, "image.thumbnail" returns base64 only. To configure it
// otherwise, register a NewThumbnailHandler under TypeImageThumbnail after
// Register: a later registration replaces an earlier one.
func Register(reg *archivist.Registry) {
	reg.Register(TypeEcho, EchoHandler{})
	reg.Register(TypeSleep, SleepHandler{})
	reg.Register(TypeFail, FailHandler{})
	reg.Register(TypeDiceSimulate, DiceSimulateHandler{})
	reg.Register(TypeTextSummarize, SummarizeHandler{})
	reg.Register(TypeTextEntities, EntitiesHandler{})
	reg.Register(TypeTextIndex, IndexHandler{})
	reg.Register(TypeImageThumbnail, NewThumbnailHandler(ThumbnailConfig{Folder: os.Getenv(ThumbnailDirEnv)}))
}
