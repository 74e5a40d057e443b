package memory_test

import (
	"testing"

	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/memory"
	"github.com/builtfast/vectord/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Target { return memory.New() })
}
