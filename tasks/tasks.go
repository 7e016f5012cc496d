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
	TypeCampaignMerge  = "campaign.merge"
	TypeHandoutsScan   = "handouts.scan"
	TypeHandoutsIndex  = "handouts.index"
)

// Register adds every built-in task type to reg. The thumbnail folder comes
// from the environment variable ARCHIVIST_THUMBNAIL_DIR (ThumbnailDirEnv);
// when it is unset, "image.thumbnail" returns base64 only. The folder
// "handouts.scan" reads comes from ARCHIVIST_HANDOUTS_DIR (HandoutsDirEnv);
// when it is unset, scans take images inline only. To configure them
// otherwise, register a NewThumbnailHandler under TypeImageThumbnail (or a
// NewHandoutsScanHandler under TypeHandoutsScan) after Register: a later
// registration replaces an earlier one.
func Register(reg *archivist.Registry) {
	reg.Register(TypeEcho, EchoHandler{})
	reg.Register(TypeSleep, SleepHandler{})
	reg.Register(TypeFail, FailHandler{})
	reg.Register(TypeDiceSimulate, DiceSimulateHandler{})
	reg.Register(TypeTextSummarize, SummarizeHandler{})
	reg.Register(TypeTextEntities, EntitiesHandler{})
	reg.Register(TypeTextIndex, IndexHandler{})
	thumbs := NewThumbnailHandler(ThumbnailConfig{Folder: os.Getenv(ThumbnailDirEnv)})
	reg.Register(TypeImageThumbnail, thumbs)
	reg.Register(TypeCampaignMerge, CampaignMergeHandler{})
	reg.Register(TypeHandoutsScan, NewHandoutsScanHandler(HandoutsConfig{Folder: os.Getenv(HandoutsDirEnv), Thumbnails: thumbs}))
	reg.Register(TypeHandoutsIndex, HandoutsIndexHandler{})
}
